# The green cluster: the same metadata as blue (read from the hub, so the two cannot drift) and
# its weighted record, at 0 until the flip.

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
  description = "Route53 hosted zone holding the service name."
  type        = string
}

variable "service_name" {
  description = "The name clients use; blue and green each own one weighted record of it."
  type        = string
  default     = "burnham.example.com"
}

variable "cluster_endpoint" {
  description = "API server URL of the green cluster (module.eks.cluster_endpoint)."
  type        = string
  default     = "https://GREEN0123456789.gr7.ap-northeast-2.eks.amazonaws.com"
}

variable "ingress_hostname" {
  description = "DNS name of the green cluster's ingress load balancer."
  type        = string
  default     = "green-ingress-1234567890.ap-northeast-2.elb.amazonaws.com"
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

# Green follows blue's metadata while blue exists, and keeps its own once blue is destroyed, so
# this root plans and destroys cleanly in any order.
data "gitopsbridge_cluster_metadata" "blue" {
  cluster_name = "eks-blue"
  must_exist   = false
}

data "gitopsbridge_cluster_metadata" "green" {
  cluster_name = "eks-green"
  must_exist   = false
}

locals {
  source = data.gitopsbridge_cluster_metadata.blue.found ? data.gitopsbridge_cluster_metadata.blue : data.gitopsbridge_cluster_metadata.green
}

resource "gitopsbridge_cluster_metadata" "green" {
  cluster_name = "eks-green"
  environment  = local.source.environment
  server       = var.cluster_endpoint

  aws_auth {
    cluster_name = "eks-green"
    role_arn     = "arn:aws:iam::123456789012:role/argocd-eks-green"
  }

  # The same addons and repositories as blue.
  addons   = local.source.addons
  metadata = local.source.metadata

  # The apply returns once Argo CD has deployed green's addons and workloads: every Application
  # that targets eks-green Synced and Healthy (failing fast on a Degraded one).
  wait_for_ready {
    min_applications = 1
    failure_grace    = "2m"
  }
  timeouts {
    create = "20m"
    update = "20m"
  }
}

# Every plan says when Argo CD reports green not ready (a warning, never a failure). The data
# source stands outside the check block: Terraform reads one inside a check again on every apply,
# so the plan would never be empty.
data "gitopsbridge_cluster_status" "green" {
  cluster_name = "eks-green"
  must_exist   = false
}

check "green_is_ready" {
  assert {
    condition     = data.gitopsbridge_cluster_status.green.ready
    error_message = "eks-green is not ready: ${join("; ", data.gitopsbridge_cluster_status.green.not_ready)}"
  }
}

resource "gitopsbridge_weighted_route" "green" {
  zone_id        = var.hosted_zone_id
  name           = var.service_name
  type           = "CNAME"
  set_identifier = "green"
  weight         = 0 # the flip: set to 100 and apply
  ttl            = 60
  records        = [var.ingress_hostname]

  # The flip is refused, with nothing written, while Argo CD reports green not ready. Moving
  # traffic away from green is never held back.
  require_ready {
    cluster_name = "eks-green"
  }
}
