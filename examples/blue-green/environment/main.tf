# Shared by both clusters: a view of the live traffic split of the service name.

terraform {
  required_version = ">= 1.11"
  required_providers {
    gitopsbridge = {
      source = "gitops-bridge/gitopsbridge"
    }
  }
}

variable "hub_kubeconfig" {
  description = "Path of a kubeconfig that reaches the hub cluster running Argo CD."
  type        = string
}

variable "hosted_zone_id" {
  description = "Route53 hosted zone holding the service name, e.g. Z0123456789ABCDEFGHIJ."
  type        = string
}

variable "service_name" {
  description = "The name clients use; blue and green each own one weighted record of it."
  type        = string
  default     = "burnham.example.com"
}

variable "route53_endpoint" {
  description = "Route53 API endpoint; null for AWS itself, or a local emulator's URL."
  type        = string
  default     = null
}

provider "gitopsbridge" {
  hub {
    config_path = var.hub_kubeconfig
  }
  route53 {
    region   = "ap-northeast-2"
    endpoint = var.route53_endpoint
  }
}

data "gitopsbridge_weighted_routes" "service" {
  zone_id = var.hosted_zone_id
  name    = var.service_name
}

output "traffic_split" {
  description = "Share of the answers per cluster, in percent."
  value       = { for r in data.gitopsbridge_weighted_routes.service.routes : r.set_identifier => r.traffic_share }
}
