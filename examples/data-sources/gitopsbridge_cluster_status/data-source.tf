# Argo CD's view of a cluster: the Applications that deploy to it and whether all of them are
# Synced and Healthy.
data "gitopsbridge_cluster_status" "green" {
  cluster_name          = "eks-green"
  required_applications = ["*-metrics-server", "guestbook*"] # optional: these must exist too
}

# A check block reports a cluster that is not ready as a warning on every plan and apply.
check "green_is_ready" {
  assert {
    condition     = data.gitopsbridge_cluster_status.green.ready
    error_message = "eks-green is not ready: ${join("; ", data.gitopsbridge_cluster_status.green.not_ready)}"
  }
}

output "green_applications" {
  # e.g. { "eks-green-metrics-server" = "Healthy/Synced", ... }
  value = {
    for app in data.gitopsbridge_cluster_status.green.applications :
    app.name => "${app.health_status}/${app.sync_status}"
  }
}
