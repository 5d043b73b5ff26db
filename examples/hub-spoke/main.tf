# Hub and spokes: one Argo CD on the hub manages addons and workloads on every registered cluster.
# Cluster endpoints and credentials are inputs here; in a real root they come from the
# modules that create the clusters.

terraform {
  required_version = ">= 1.11"
  required_providers {
    gitopsbridge = {
      source = "gitops-bridge/gitopsbridge"
    }
  }
}

variable "hub_kubeconfig" {
  description = "Path of a kubeconfig that reaches the hub cluster."
  type        = string
}

variable "hub_context" {
  description = "Context of the hub in that kubeconfig (null: its current context)."
  type        = string
  default     = null
}

variable "spoke_dev_server" {
  type    = string
  default = "https://spoke-dev.example.internal"
}

variable "spoke_prod_server" {
  type    = string
  default = "https://spoke-prod.example.internal"
}

variable "spoke_dev_token" {
  description = "Service account token Argo CD uses for the dev spoke; never stored in state."
  type        = string
  sensitive   = true
  default     = "demo-token-not-a-secret"
}

provider "gitopsbridge" {
  hub {
    config_path    = var.hub_kubeconfig
    config_context = var.hub_context
  }
}

locals {
  addons_repo = {
    addons_repo_url      = "https://github.com/gitops-bridge-dev/gitops-bridge-argocd-control-plane-template"
    addons_repo_basepath = ""
    addons_repo_path     = "bootstrap/control-plane/addons"
    addons_repo_revision = "HEAD"
  }
  workload_repo = {
    workload_repo_url      = "https://github.com/gitops-bridge-dev/gitops-bridge-argocd-control-plane-template"
    workload_repo_basepath = ""
    workload_repo_path     = "apps"
    workload_repo_revision = "HEAD"
  }
}

resource "gitopsbridge_cluster_metadata" "hub" {
  cluster_name = "hub"
  environment  = "control-plane"
  in_cluster   = true
  addons       = { argocd = true, metrics_server = true }
  metadata     = local.addons_repo
}

resource "gitopsbridge_cluster_metadata" "spoke_prod" {
  cluster_name = "spoke-prod"
  environment  = "prod"
  server       = var.spoke_prod_server

  aws_auth {
    cluster_name = "spoke-prod"
    role_arn     = "arn:aws:iam::123456789012:role/argocd-spoke"
  }

  addons   = { metrics_server = true, aws_load_balancer_controller = true }
  metadata = merge(local.addons_repo, local.workload_repo, { aws_region = "ap-northeast-2" })

  # `terraform destroy` lets Argo CD delete the spoke's workloads, then its addons, while it can
  # still reach the spoke; only then does the Secret go. Without it, Applications whose cluster
  # is gone stay stuck on their finalizer, and what they deployed is left running.
  drain_on_destroy {}
}

resource "gitopsbridge_cluster_metadata" "spoke_dev" {
  cluster_name = "spoke-dev"
  environment  = "dev"
  server       = var.spoke_dev_server

  # Write-only: sent to the hub, never written to plan or state. Bump the version to rotate.
  bearer_token_wo         = var.spoke_dev_token
  bearer_token_wo_version = 1

  addons   = { metrics_server = true }
  metadata = merge(local.addons_repo, local.workload_repo)

  drain_on_destroy {}
}

# The GitOps Bridge bootstrap: ApplicationSets that turn each cluster's labels and annotations
# into addons and workloads.
resource "gitopsbridge_addon_set" "addons" {
  name             = "cluster-addons"
  namespace        = "argocd"
  application_name = "addons-{{name}}"

  cluster_selector {
    match_expressions {
      key      = "akuity.io/argo-cd-cluster-name"
      operator = "NotIn"
      values   = ["in-cluster"]
    }
  }

  source {
    from_metadata = "addons"
    directory {
      recurse = true
      exclude = "exclude/*"
    }
  }

  destination {
    namespace = "argocd"
    name      = "{{name}}"
  }

  sync_policy {
    automated {}
  }

  preserve_resources_on_deletion = true
}

# Workloads: every cluster but the control plane, one Application per cluster, from the
# repository named by the cluster's workload_repo_* annotations.
resource "gitopsbridge_addon_set" "workloads" {
  name             = "workloads"
  namespace        = "argocd"
  application_name = "workload-{{name}}"

  cluster_selector {
    match_expressions {
      key      = "akuity.io/argo-cd-cluster-name"
      operator = "NotIn"
      values   = ["in-cluster"]
    }
    match_expressions {
      key      = "environment"
      operator = "NotIn"
      values   = ["control-plane"]
    }
  }

  source {
    from_metadata = "workload"
    directory {
      recurse = true
      exclude = "exclude/*"
    }
  }

  destination {
    namespace = "workload"
    name      = "{{name}}"
  }

  sync_policy {
    automated {}
    sync_options = ["CreateNamespace=true"]
  }

  preserve_resources_on_deletion = false
}

output "registered_clusters" {
  value = [
    gitopsbridge_cluster_metadata.hub.id,
    gitopsbridge_cluster_metadata.spoke_prod.id,
    gitopsbridge_cluster_metadata.spoke_dev.id,
  ]
}
