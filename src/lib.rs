//! terraform-provider-gitopsbridge: the GitOps Bridge (Argo CD cluster metadata, ApplicationSets,
//! Route53 weighted routing) as a Terraform provider.

pub mod application_set;
pub mod data_sources;
pub mod dns_names;
pub mod http_url;
pub mod hub;
pub mod k8s_names;
pub mod owned_fields;
pub mod protocol;
pub mod provider;
pub mod resources;
pub mod route53;
pub mod tf_values;
pub mod timeouts;
pub mod unanswered;
pub mod weighted_set;
