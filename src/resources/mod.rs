//! Managed resources, one file each.

pub mod addon_set;
pub mod cluster_metadata;
