# A whole weighted set is imported by "<zone id>_<name>_<type>"; every member becomes a route.
terraform import gitopsbridge_traffic_split.burnham Z0123456789ABCDEFGHIJ_burnham.example.com_CNAME
