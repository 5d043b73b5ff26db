# A weighted record is imported by "<zone id>_<name>_<type>_<set identifier>".
terraform import gitopsbridge_weighted_route.green Z0123456789ABCDEFGHIJ_burnham.example.com_CNAME_green
