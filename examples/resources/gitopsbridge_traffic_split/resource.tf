# Every member of a weighted set in one resource: a shift of weights is one atomic Route53
# change batch, so traffic never passes through a split that is not written here. Use it when
# one root knows both clusters; use gitopsbridge_weighted_route when each cluster has its own root.
resource "gitopsbridge_traffic_split" "burnham" {
  zone_name = "example.com"
  name      = "burnham.example.com"
  type      = "CNAME"
  ttl       = 60

  route {
    set_identifier = "blue"
    weight         = 100
    records        = ["blue-ingress-1234567890.ap-northeast-2.elb.amazonaws.com"]
  }

  route {
    set_identifier = "green"
    weight         = 0
    records        = ["green-ingress-1234567890.ap-northeast-2.elb.amazonaws.com"]
  }
}

output "traffic_shares" {
  value = gitopsbridge_traffic_split.burnham.traffic_shares # { blue = 100, green = 0 }
}
