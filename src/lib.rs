//! terraform-provider-gitopsbridge: the GitOps Bridge (Argo CD cluster metadata, ApplicationSets,
//! Route53 weighted routing) as a Terraform provider.

pub mod protocol;
