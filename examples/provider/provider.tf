terraform {
  required_providers {
    gitopsbridge = {
      source = "gitops-bridge/gitopsbridge"
    }
  }
}

# The hub is the cluster that runs Argo CD. Its connection settings have the same names and
# meaning as the kubernetes provider's; without a hub block, KUBECONFIG or ~/.kube/config is used.
provider "gitopsbridge" {
  argocd_namespace = "argocd"

  hub {
    config_path    = "~/.kube/config"
    config_context = "hub"
  }

  route53 {
    region = "ap-northeast-2"
  }
}
