//! Managed resources, one file each.

pub mod weighted_route;
