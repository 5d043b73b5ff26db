# A canary between two clusters behind one service name: green's share grows 10 % -> 50 % ->
# 100 %, a pause apart (2m by default), and only while Argo CD reports green ready. Set
# green_weight = 100 and apply: the plan lists each step in rollout_plan. If green stops being
# ready between steps, the apply restores the weights it started from in one change and fails
# naming the step it reached.

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
  description = "The name clients use; blue and green are its two weighted records."
  type        = string
  default     = "burnham.example.com"
}

variable "green_weight" {
  description = "Green's weight out of 100; blue gets the rest. 0 before the canary, 100 to finish it."
  type        = number
  default     = 0
}

variable "step_pause" {
  description = "How long each step holds before the gate is checked again and the next step goes out."
  type        = string
  default     = "2m"
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

resource "gitopsbridge_traffic_split" "service" {
  zone_id = var.hosted_zone_id
  name    = var.service_name
  type    = "CNAME"
  ttl     = 60

  route {
    set_identifier = "blue"
    weight         = 100 - var.green_weight
    records        = ["blue-ingress-1234567890.ap-northeast-2.elb.amazonaws.com"]
  }

  route {
    set_identifier = "green"
    weight         = var.green_weight
    records        = ["green-ingress-1234567890.ap-northeast-2.elb.amazonaws.com"]

    # Traffic moves to green only while every Application Argo CD runs on it is Synced and Healthy.
    require_ready {
      cluster_name = "eks-green"
    }
  }

  rollout {
    steps = [10, 50]
    pause = var.step_pause
  }

  timeouts {
    update = "15m" # two pauses, the waits for INSYNC, and room to spare
  }
}

output "rollout_plan" {
  description = "The change batches of the last stepped update."
  value       = gitopsbridge_traffic_split.service.rollout_plan
}

output "traffic_shares" {
  value = gitopsbridge_traffic_split.service.traffic_shares
}
