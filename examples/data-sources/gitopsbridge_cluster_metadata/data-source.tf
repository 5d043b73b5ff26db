# Reads the metadata of a registered cluster (never its credentials), so a green cluster can
# carry exactly what blue carries.
data "gitopsbridge_cluster_metadata" "blue" {
  cluster_name = "eks-blue"
}

output "blue_addons" {
  value = data.gitopsbridge_cluster_metadata.blue.addons
}
