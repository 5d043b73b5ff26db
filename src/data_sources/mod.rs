//! Data sources, one file each.

pub mod cluster_metadata;
