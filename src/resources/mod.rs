//! Managed resources, one file each.

pub mod traffic_split;
pub mod weighted_route;
