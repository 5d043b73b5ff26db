//! The contract between the protocol server and the provider it serves.
//!
//! The server decodes wire values with the schemas below, calls these traits, and encodes the
//! results; it never knows what a resource manages. Every call gets a [`Context`] that carries
//! cancellation (StopProvider) and collects warnings.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::halt::Stop;

use super::diagnostics::{AttributePath, Diagnostics, Severity};
use super::schema::Schema;
use super::value::Value;

/// What Terraform told us it supports, per request.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientCapabilities {
    /// Terraform can take a deferred response (unused for now, kept for completeness).
    pub deferral_allowed: bool,
    /// Terraform understands write-only attributes.
    pub write_only_attributes_allowed: bool,
}

/// Per-request context handed to every provider call.
///
/// It dereferences to its [`Stop`], the neutral cancellation the clients take, so a resource
/// hands `ctx` to the hub or Route53 client as it is and the clients need nothing from here.
#[derive(Clone, Debug, Default)]
pub struct Context {
    stop: Stop,
    warnings: Arc<Mutex<Diagnostics>>,
    pub client: ClientCapabilities,
}

impl std::ops::Deref for Context {
    type Target = Stop;

    fn deref(&self) -> &Stop {
        &self.stop
    }
}

impl Context {
    pub fn new(cancel: CancellationToken, client: ClientCapabilities) -> Self {
        Context { stop: Stop::new(cancel), warnings: Arc::default(), client }
    }

    /// Adds a warning shown with the call's result.
    pub fn warn(&self, attribute: Option<AttributePath>, summary: impl Into<String>, detail: impl Into<String>) {
        self.warnings.lock().unwrap_or_else(|e| e.into_inner()).push_warning(attribute, summary, detail);
    }

    /// Takes the warnings collected so far.
    pub fn take_warnings(&self) -> Diagnostics {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Input of [`Resource::plan`].
#[derive(Debug)]
pub struct PlanRequest<'a> {
    /// Null when the resource is being created.
    pub prior_state: &'a Value,
    /// Terraform's proposal: config merged with prior state for computed attributes.
    /// Null when the resource is being destroyed (then `plan` is not called).
    pub proposed_new_state: Value,
    pub config: &'a Value,
}

/// Output of [`Resource::plan`].
#[derive(Debug, Default)]
pub struct Plan {
    pub planned_state: Value,
    /// Attributes whose change forces the resource to be replaced.
    pub requires_replace: Vec<AttributePath>,
}

/// A create, update or delete that failed.
///
/// When the failure came after something was written, `state` is the object as it now exists,
/// so that Terraform records it rather than forgetting it (Terraform saves a state returned
/// with errors; after a create it marks the object tainted). `None` keeps the prior state: the
/// right answer whenever nothing was written.
#[derive(Debug)]
pub struct ApplyError {
    pub diagnostics: Diagnostics,
    pub state: Option<Value>,
}

impl ApplyError {
    /// A failure after a write: `state` is what exists now.
    pub fn after_write(state: Value, diagnostics: Diagnostics) -> Self {
        ApplyError { diagnostics, state: Some(state) }
    }

    /// What a diagnostic says about a write whose answer was lost.
    pub const UNCERTAIN: &str = "The write may have been carried out before its answer was lost.";

    /// What [`ApplyError::planned_if`] adds to the errors when it records the planned state.
    pub const PLANNED: &str = "The state records the object as planned: the next plan finds out what exists and \
                               shows what is left to do.";

    /// A failed write whose outcome is unknown when `uncertain` (its answer was lost): `planned`
    /// is recorded and the errors say so; the next refresh finds out what exists (after a create
    /// Terraform marks it tainted: gone means create again, present means replace). Otherwise
    /// nothing was written and the prior state stays.
    pub fn planned_if(uncertain: bool, planned: Value, mut diagnostics: Diagnostics) -> Self {
        if !uncertain {
            return ApplyError { diagnostics, state: None };
        }
        for d in diagnostics.0.iter_mut().filter(|d| d.severity == Severity::Error) {
            d.detail = format!("{} {}", d.detail.trim_end(), ApplyError::PLANNED);
        }
        ApplyError { diagnostics, state: Some(planned) }
    }
}

/// A failure before anything was written.
impl From<Diagnostics> for ApplyError {
    fn from(diagnostics: Diagnostics) -> Self {
        ApplyError { diagnostics, state: None }
    }
}

/// A managed resource type. Methods read top to bottom in a resource's life.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The full type name, e.g. `gitopsbridge_cluster_metadata`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Offline checks of a configuration that may hold unknown values.
    async fn validate(&self, _ctx: &Context, _config: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }

    /// Computes the planned new state (and replacement paths) for a create or update.
    async fn plan(&self, ctx: &Context, request: PlanRequest<'_>) -> Result<Plan, Diagnostics>;

    /// Creates the object; returns the new state.
    ///
    /// Create, update and delete are never abandoned on StopProvider: they watch `ctx` and stop
    /// at a safe point, so that a write already sent is finished and reported.
    async fn create(&self, ctx: &Context, planned: Value, config: &Value) -> Result<Value, ApplyError>;

    /// Refreshes state from the remote object; `None` when the object is gone.
    async fn read(&self, ctx: &Context, state: Value) -> Result<Option<Value>, Diagnostics>;

    /// Updates the object in place; returns the new state.
    async fn update(&self, ctx: &Context, prior: Value, planned: Value, config: &Value) -> Result<Value, ApplyError>;

    /// Deletes the object; an object already gone is success.
    async fn delete(&self, ctx: &Context, prior: Value) -> Result<(), ApplyError>;

    /// Turns an import id into a state that `read` can complete.
    async fn import(&self, ctx: &Context, id: &str) -> Result<Value, Diagnostics>;

    /// Upgrades raw JSON state written by an older schema version to the current one.
    fn upgrade_state(&self, _version: i64, state: serde_json::Value) -> Result<serde_json::Value, Diagnostics> {
        Ok(state)
    }
}

/// A data source type.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    async fn validate(&self, _ctx: &Context, _config: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }

    /// Reads the data; returns the full state (config plus computed attributes).
    async fn read(&self, ctx: &Context, config: &Value) -> Result<Value, Diagnostics>;
}

/// The provider itself: its configuration and the types it serves.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's type name, e.g. `gitopsbridge`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    async fn validate(&self, _ctx: &Context, _config: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }

    /// Receives the provider configuration; values may be unknown during plan.
    async fn configure(&self, ctx: &Context, config: &Value) -> Result<(), Diagnostics>;

    fn resources(&self) -> Vec<Arc<dyn Resource>>;

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncertain_write_records_the_plan_and_says_so() {
        let errors = || Diagnostics::error("Hub API error", "the hub answered 500.");
        let planned = Value::object([("name", Value::from("a"))]);
        let certain = ApplyError::planned_if(false, planned.clone(), errors());
        assert_eq!((certain.state, certain.diagnostics), (None, errors()));
        let uncertain = ApplyError::planned_if(true, planned.clone(), errors());
        assert_eq!(uncertain.state, Some(planned));
        assert_eq!(uncertain.diagnostics.0[0].detail, format!("the hub answered 500. {}", ApplyError::PLANNED));
    }
}
