# The blue cluster: its registration with the hub's Argo CD and its weighted record.

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
  description = "API server URL of the blue cluster (module.eks.cluster_endpoint)."
  type        = string
  default     = "https://BLUE0123456789.gr7.ap-northeast-2.eks.amazonaws.com"
}

variable "ingress_hostname" {
  description = "DNS name of the blue cluster's ingress load balancer."
  type        = string
  default     = "blue-ingress-1234567890.ap-northeast-2.elb.amazonaws.com"
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

resource "gitopsbridge_cluster_metadata" "blue" {
  cluster_name = "eks-blue"
  environment  = "prod"
  server       = var.cluster_endpoint

  aws_auth {
    cluster_name = "eks-blue"
    role_arn     = "arn:aws:iam::123456789012:role/argocd-eks-blue"
  }

  addons = {
    metrics_server               = true
    aws_load_balancer_controller = true
  }

  metadata = {
    addons_repo_url      = "https://github.com/gitops-bridge-dev/gitops-bridge-argocd-control-plane-template"
    addons_repo_basepath = ""
    addons_repo_path     = "bootstrap/control-plane/addons"
    addons_repo_revision = "HEAD"
    aws_region           = "ap-northeast-2"
    aws_account_id       = "123456789012"
  }

  # `terraform destroy` drains blue before its Secret goes: Argo CD deletes blue's workloads, then
  # its addons, then the rest (the load balancer controller last), while it can still reach blue,
  # so no load balancer or DNS record is left behind.
  drain_on_destroy {}

  timeouts {
    delete = "30m"
  }
}

resource "gitopsbridge_weighted_route" "blue" {
  zone_id        = var.hosted_zone_id
  name           = var.service_name
  type           = "CNAME"
  set_identifier = "blue"
  weight         = 100 # the flip sets this to 0 once green carries the traffic
  ttl            = 60
  records        = [var.ingress_hostname]

  # Destroyed before the cluster's registration: traffic leaves blue before its Applications go.
  depends_on = [gitopsbridge_cluster_metadata.blue]
}
