# One member of a weighted set: this root owns green's record, another root owns blue's.
# Flip traffic by editing the weights (green 0 -> 100 here, blue 100 -> 0 there) and applying.
resource "gitopsbridge_weighted_route" "green" {
  zone_name      = "example.com" # or zone_id = "Z0123456789ABCDEFGHIJ"
  name           = "burnham.example.com"
  type           = "CNAME"
  set_identifier = "green"
  weight         = 0
  ttl            = 60 # every member of the set must use the same TTL
  records        = ["green-ingress-1234567890.ap-northeast-2.elb.amazonaws.com"]
}

# A weighted alias record pointing straight at a load balancer.
resource "gitopsbridge_weighted_route" "green_apex" {
  zone_id        = "Z0123456789ABCDEFGHIJ"
  name           = "example.com"
  type           = "A"
  set_identifier = "green"
  weight         = 0

  alias {
    name                   = "green-ingress-1234567890.ap-northeast-2.elb.amazonaws.com"
    zone_id                = "ZWKZPGTI48KDX" # the load balancer's canonical hosted zone
    evaluate_target_health = true
  }
}
