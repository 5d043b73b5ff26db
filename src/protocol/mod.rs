//! The Terraform plugin protocol (tfplugin6 over go-plugin), knowing nothing about Argo CD or
//! Route53: it decodes wire values with the schemas a [`provider_api::Provider`] declares, calls
//! it, and encodes the answers.

pub mod diagnostics;
pub mod plan;
pub mod provider_api;
pub mod schema;
pub mod value;

pub use diagnostics::{AttributePath, Diagnostic, Diagnostics, Severity};
pub use provider_api::{ClientCapabilities, Context, DataSource, Plan, PlanRequest, Provider, Resource};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use value::{Number, Type, Value};
