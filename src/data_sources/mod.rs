//! Data sources, one file each.

pub mod weighted_routes;
