# A cluster Secret is imported by "<namespace>/<secret name>", including Secrets that the
# gitops-bridge Terraform module or `argocd cluster add` created.
terraform import gitopsbridge_cluster_metadata.spoke argocd/spoke-prod
