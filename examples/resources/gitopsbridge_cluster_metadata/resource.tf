# Registers a spoke cluster with the hub's Argo CD. Labels select addons through
# ApplicationSets; annotations carry the repositories and cloud facts they template in.
resource "gitopsbridge_cluster_metadata" "spoke" {
  cluster_name = "spoke-prod"
  environment  = "prod"
  server       = "https://0123456789ABCDEF.gr7.ap-northeast-2.eks.amazonaws.com"
  ca_data      = base64encode("-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n") # e.g. module.eks.cluster_certificate_authority_data

  aws_auth {
    cluster_name = "spoke-prod"
    role_arn     = "arn:aws:iam::123456789012:role/argocd-spoke"
  }

  # Shorthand flags become enable_<key> labels; keys as the gitops-bridge module's maps
  # write them (enable_*, aws_enable_*, values that are not flags) stay as they are.
  addons = {
    metrics_server               = true
    aws_load_balancer_controller = true
    karpenter                    = false
    kubernetes_version           = "1.31"
  }

  metadata = {
    addons_repo_url      = "https://github.com/gitops-bridge-dev/gitops-bridge-argocd-control-plane-template"
    addons_repo_basepath = ""
    addons_repo_path     = "bootstrap/control-plane/addons"
    addons_repo_revision = "HEAD"
    aws_region           = "ap-northeast-2"
    aws_account_id       = "123456789012"
  }
}

# The hub registers itself as Argo CD's in-cluster destination.
resource "gitopsbridge_cluster_metadata" "hub" {
  cluster_name = "hub"
  environment  = "control-plane"
  in_cluster   = true
  addons       = { argocd = true }
}
