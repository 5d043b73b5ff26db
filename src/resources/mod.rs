//! Managed resources, one file each: Terraform <-> domain only (model, schema, validate, plan,
//! the CRUD glue, import). What more than one resource or data source needs lives below, in
//! `tf/` (Terraform-shaped) or in the domain (`argocd/`, `route53/`).
//!
//! May import: `provider/state.rs`, `tf`, `protocol`, the domain and the neutral modules. Never
//! another resource, `provider/mod.rs` (which lists the resources) or `data_sources`.

pub mod addon_set;
pub mod cluster_metadata;
pub mod traffic_split;
pub mod weighted_route;
