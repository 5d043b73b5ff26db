//! Argo CD's side, with no Terraform in it: the cluster Secret Argo CD reads a cluster from, the
//! ApplicationSet the provider renders, the fields the provider owns on them, and the rules of
//! Kubernetes names.
//!
//! May import: `crate::halt`, `crate::secrets`, `crate::unanswered`, `crate::http_url`, and the
//! hub client's types. Never `protocol`, `provider`, `resources`, `data_sources` or `tf`.

pub mod application;
pub mod application_set;
pub mod cluster_secret;
pub mod k8s_names;
pub mod owned_fields;
