//! Managed resources, one file each.

pub mod addon_set;
pub mod cluster_metadata;
pub mod traffic_split;
pub mod weighted_route;
