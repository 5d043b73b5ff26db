//! The Terraform plugin protocol (tfplugin6 over go-plugin), knowing nothing about Argo CD or
//! Route53: it decodes wire values with the schemas a [`provider_api::Provider`] declares, calls
//! it, and encodes the answers.
//!
//! May import: the neutral modules (`halt`, `secrets`) only; nothing of Argo CD, Route53, the
//! provider or its resources.

pub mod cancel;
pub mod codec;
pub mod convert;
pub mod diagnostics;
pub mod go_plugin;
pub mod guard;
pub mod handshake;
pub mod json;
pub mod listener;
#[macro_use]
pub mod log;
pub mod msgpack;
pub mod plan;
pub mod provider_api;
pub mod redact;
pub mod rpc;
pub mod schema;
pub mod serve;
pub mod server;
pub mod service;
pub mod tls;
pub mod value;
pub mod wire;

pub use diagnostics::{AttributePath, Diagnostic, Diagnostics, Severity};
pub use provider_api::{ApplyError, ClientCapabilities, Context, DataSource, Plan, PlanRequest, Provider, Resource};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use serve::serve;
pub use value::{Number, Type, Value};
