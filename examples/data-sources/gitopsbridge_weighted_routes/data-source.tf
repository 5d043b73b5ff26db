# The live traffic split of a name, whoever wrote its weighted records.
data "gitopsbridge_weighted_routes" "burnham" {
  zone_name = "example.com"
  name      = "burnham.example.com"
  type      = "CNAME" # optional
}

output "split" {
  # e.g. { blue = 100, green = 0 }
  value = { for r in data.gitopsbridge_weighted_routes.burnham.routes : r.set_identifier => r.traffic_share }
}
