//! The RPCs of the tfplugin6 service, grouped by what they serve. Each takes the decoded request
//! message and returns the response message; `server.rs` adds the panic guard and logging.

pub mod data_source;
pub mod provider;
pub mod resource;
pub mod schema;
pub mod write_only;

use super::convert;
use super::diagnostics::Diagnostics;
use super::wire::tfplugin6 as pb;

/// The answer to an RPC for a feature this provider does not have: an error diagnostic, never a
/// gRPC error (Terraform would treat that as a broken plugin).
pub fn unsupported(feature: &str, type_name: &str) -> Vec<pb::Diagnostic> {
    let subject = if type_name.is_empty() { String::new() } else { format!(" (asked for {type_name:?})") };
    convert::diagnostics(&Diagnostics::error(
        format!("{feature} not supported"),
        format!("The gitopsbridge provider does not implement this{subject}."),
    ))
}
