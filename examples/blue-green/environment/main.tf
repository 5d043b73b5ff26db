# Shared by both clusters: the hub's own registration and a view of the live traffic split.

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

provider "gitopsbridge" {
  hub {
    config_path = var.hub_kubeconfig
  }
  route53 {
    region = "ap-northeast-2"
  }
}

resource "gitopsbridge_cluster_metadata" "hub" {
  cluster_name = "hub"
  environment  = "control-plane"
  in_cluster   = true
  addons       = { argocd = true }
}

data "gitopsbridge_weighted_routes" "service" {
  zone_id = var.hosted_zone_id
  name    = var.service_name
}

output "traffic_split" {
  description = "Share of the answers per cluster, in percent."
  value       = { for r in data.gitopsbridge_weighted_routes.service.routes : r.set_identifier => r.traffic_share }
}
