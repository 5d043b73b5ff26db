//! Managed resources, one file each.

pub mod cluster_metadata;
