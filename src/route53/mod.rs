//! Route53, with no Terraform in it: the rules of weighted record sets ([`weighted_set`]), DNS
//! names ([`dns_names`]), the weights of a stepped shift ([`rollout`]), the records Route53
//! holds ([`records`]) and the client that reads and changes them ([`client`], with the fresh
//! listings writes share in `client/live.rs`).
//!
//! May import: `crate::halt`, `crate::unanswered`. Never `protocol`, `provider`, `resources`,
//! `data_sources`, `tf`, `argocd` or `hub`.

pub mod client;
pub mod dns_names;
pub mod error;
pub mod health;
pub mod records;
pub mod rollout;
pub mod weighted_set;

pub use client::{CallCounts, Changed, DEFAULT_MAX_ATTEMPTS, Route53, Route53Settings, Route53Source};
pub use error::Route53Error;
pub use records::{Alias, Change, LiveRecord, RecordSet, Zone, bare_zone_id};
