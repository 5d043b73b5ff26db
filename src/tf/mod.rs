//! Terraform-side plumbing every resource and data source uses: the `timeouts` block and the
//! deadline it sets ([`timeouts`]), reading configuration values ([`values`]), and adopting an
//! object that already exists ([`adoption`]).
//!
//! May import: `protocol` (values, schemas, diagnostics) and the neutral modules. Never
//! `provider`, `resources` or `data_sources`.

pub mod adoption;
pub mod cluster_state;
pub mod credential_plugin;
pub mod hub_errors;
pub mod rollout;
pub mod route53_records;
pub mod selection_hints;
pub mod timeouts;
pub mod traffic_gate;
pub mod values;
pub mod wait_for_ready;
