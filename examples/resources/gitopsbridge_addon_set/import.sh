# An ApplicationSet is imported by "<namespace>/<name>", including the ones applied with kubectl
# from the GitOps Bridge bootstrap/ directory.
terraform import gitopsbridge_addon_set.addons argocd/cluster-addons
terraform import gitopsbridge_addon_set.workloads argocd/workloads
