//! The credential plugin's schema piece that the provider (`hub.exec`) and the `cluster_metadata`
//! resource (`exec_provider`) both declare, defined once.

use crate::protocol::{Attribute, Type};

/// The `env` of a client-go credential plugin, in the provider's `hub.exec` and in a cluster's
/// `exec_provider`: sensitive, as it often carries credentials.
pub fn exec_env_attribute() -> Attribute {
    Attribute::optional(
        "env",
        Type::map(Type::String),
        "Extra environment variables of the command; sensitive, as they often carry credentials.",
    )
    .sensitive()
}
