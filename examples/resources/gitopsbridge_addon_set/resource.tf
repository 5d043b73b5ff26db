# The two ApplicationSets that finish a GitOps Bridge set-up, field for field what
# `kubectl apply -f bootstrap/addons.yaml -f bootstrap/workloads.yaml` writes today.
# Each cluster registered with gitopsbridge_cluster_metadata gets one Application per set,
# templated from its labels and annotations ({{…}} is passed to Argo CD as written).

# Addons: every cluster Secret the bridge wrote (Argo CD's own in-cluster entry excluded),
# from the repository named by the cluster's addons_repo_* annotations.
resource "gitopsbridge_addon_set" "addons" {
  name             = "cluster-addons"
  namespace        = "argocd"
  application_name = "bootstrap-addons"

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

# Workloads: every cluster but the control plane, one Application per environment,
# from the repository named by the cluster's workload_repo_* annotations.
resource "gitopsbridge_addon_set" "workloads" {
  name             = "workloads"
  namespace        = "argocd"
  application_name = "workload-{{metadata.labels.environment}}"

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
