//! Managed resources, one file each.

pub mod cluster_metadata;
pub mod traffic_split;
pub mod weighted_route;
