//! Managed resource RPCs: validate, upgrade, read, plan, apply and import.

use crate::protocol::convert;
use crate::protocol::diagnostics::Diagnostics;
use crate::protocol::plan::null_write_only;
use crate::protocol::provider_api::{ApplyError, PlanRequest};
use crate::protocol::redact;
use crate::protocol::service::{ProviderService, cancellable, decode, encode, finish};
use crate::protocol::wire::tfplugin6 as pb;
use crate::protocol::{json, value::Value};

use super::write_only::refuse_write_only;

/// What ReadResource answers if it panics: the state as it was, so nothing is lost.
pub fn read_fallback(request: &pb::read_resource::Request) -> pb::read_resource::Response {
    pb::read_resource::Response {
        new_state: request.current_state.clone(),
        private: request.private.clone(),
        ..Default::default()
    }
}

/// What ApplyResourceChange answers if it panics: the prior state (null for a create), so that
/// Terraform keeps tracking whatever existed before.
pub fn apply_fallback(request: &pb::apply_resource_change::Request) -> pb::apply_resource_change::Response {
    pb::apply_resource_change::Response {
        new_state: Some(request.prior_state.clone().unwrap_or_else(convert::null_value)),
        private: request.planned_private.clone(),
        ..Default::default()
    }
}

/// A failed ApplyResourceChange as the wire carries it: the state that exists after a write,
/// when the resource reported one.
struct ApplyFailure {
    written: Option<pb::DynamicValue>,
    diagnostics: Diagnostics,
}

impl From<Diagnostics> for ApplyFailure {
    fn from(diagnostics: Diagnostics) -> Self {
        ApplyFailure { written: None, diagnostics }
    }
}

impl ProviderService {
    pub(crate) async fn validate_resource_config(
        &self,
        request: pb::validate_resource_config::Request,
    ) -> pb::validate_resource_config::Response {
        let ctx = self.context(request.client_capabilities.as_ref());
        let result = async {
            let entry = self.resource(&request.type_name)?;
            let config = decode(request.config.as_ref(), &entry.schema, &entry.ty, "configuration")?;
            let mut problems = if ctx.client.write_only_attributes_allowed {
                Diagnostics::new()
            } else {
                refuse_write_only(&entry.schema.block, &config)
            };
            if let Err(more) = cancellable(&ctx, entry.resource.validate(&ctx, &config)).await {
                problems.extend(more);
            }
            problems.into_result()
        }
        .await;
        pb::validate_resource_config::Response { diagnostics: finish(&ctx, result.err()) }
    }

    /// Reads the stored JSON state (the only format this provider ever wrote), lets the resource
    /// upgrade it, and re-reads it with the current schema, dropping attributes it no longer has.
    pub(crate) fn upgrade_resource_state(
        &self,
        request: pb::upgrade_resource_state::Request,
    ) -> pb::upgrade_resource_state::Response {
        let result = (|| {
            let entry = self.resource(&request.type_name)?;
            let raw = request.raw_state.unwrap_or_default();
            if raw.json.is_empty() {
                if raw.flatmap.is_empty() {
                    return Ok(convert::null_value());
                }
                return Err(Diagnostics::error(
                    "Unsupported state format",
                    "The stored state uses the flat map format of Terraform 0.11 and earlier, which this \
                     provider never wrote. Remove the resource from state and import it again.",
                ));
            }
            let stored: serde_json::Value = serde_json::from_slice(&raw.json).map_err(|e| {
                Diagnostics::error("Invalid stored state", format!("The stored state is not valid JSON: {e}."))
            })?;
            let upgraded = entry.resource.upgrade_state(request.version, stored)?;
            let mut value = json::from_json(&upgraded, &entry.ty)
                .map_err(|e| convert::codec_error("The stored state does not match the schema", &e))?;
            redact::remember_sensitive(&entry.schema.block, &value);
            null_write_only(&entry.schema.block, &mut value);
            encode(&value, &entry.ty, "upgraded state")
        })();
        match result {
            Ok(state) => pb::upgrade_resource_state::Response { upgraded_state: Some(state), diagnostics: Vec::new() },
            Err(errors) => pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: convert::diagnostics(&errors),
            },
        }
    }

    /// `None` from the resource means the object is gone: a null state makes Terraform plan a
    /// create. On error the current state is returned unchanged.
    pub(crate) async fn read_resource(&self, request: pb::read_resource::Request) -> pb::read_resource::Response {
        let ctx = self.context(request.client_capabilities.as_ref());
        let result = async {
            let entry = self.resource(&request.type_name)?;
            let state = decode(request.current_state.as_ref(), &entry.schema, &entry.ty, "state")?;
            match cancellable(&ctx, entry.resource.read(&ctx, state)).await? {
                None => Ok(convert::null_value()),
                Some(mut fresh) => {
                    null_write_only(&entry.schema.block, &mut fresh);
                    encode(&fresh, &entry.ty, "state")
                }
            }
        }
        .await;
        let (new_state, errors) = match result {
            Ok(state) => (Some(state), None),
            Err(errors) => (request.current_state, Some(errors)),
        };
        pb::read_resource::Response {
            new_state,
            diagnostics: finish(&ctx, errors),
            private: request.private,
            deferred: None,
            new_identity: None,
        }
    }

    /// Destroys (a null proposal) are answered without asking the resource: this provider does
    /// not declare `plan_destroy`. Write-only attributes are always null in the planned state.
    pub(crate) async fn plan_resource_change(
        &self,
        request: pb::plan_resource_change::Request,
    ) -> pb::plan_resource_change::Response {
        let ctx = self.context(request.client_capabilities.as_ref());
        let result = async {
            let entry = self.resource(&request.type_name)?;
            let proposed = decode(request.proposed_new_state.as_ref(), &entry.schema, &entry.ty, "proposed new state")?;
            if proposed.is_null() {
                return Ok((convert::null_value(), Vec::new()));
            }
            let prior = decode(request.prior_state.as_ref(), &entry.schema, &entry.ty, "prior state")?;
            let config = decode(request.config.as_ref(), &entry.schema, &entry.ty, "configuration")?;
            let plan_request = PlanRequest { prior_state: &prior, proposed_new_state: proposed, config: &config };
            let mut plan = cancellable(&ctx, entry.resource.plan(&ctx, plan_request)).await?;
            null_write_only(&entry.schema.block, &mut plan.planned_state);
            let planned = encode(&plan.planned_state, &entry.ty, "planned state")?;
            Ok((planned, plan.requires_replace.iter().map(convert::attribute_path).collect()))
        }
        .await;
        let (planned_state, requires_replace, errors) = match result {
            Ok((planned, replace)) => (Some(planned), replace, None),
            Err(errors) => (None, Vec::new(), Some(errors)),
        };
        pb::plan_resource_change::Response {
            planned_state,
            requires_replace,
            planned_private: request.prior_private,
            diagnostics: finish(&ctx, errors),
            legacy_type_system: false,
            deferred: None,
            planned_identity: None,
        }
    }

    /// Create (null prior), delete (null planned) or update. Not raced against StopProvider: the
    /// resource watches its context and decides how to stop safely, because abandoning a write
    /// half way would lose track of the remote object. A failure keeps the prior state (null for
    /// a failed create) unless the resource says what exists after a write, so nothing written
    /// is forgotten.
    pub(crate) async fn apply_resource_change(
        &self,
        request: pb::apply_resource_change::Request,
    ) -> pb::apply_resource_change::Response {
        let ctx = self.context(None);
        let result = async {
            let entry = self.resource(&request.type_name)?;
            let prior = decode(request.prior_state.as_ref(), &entry.schema, &entry.ty, "prior state")?;
            let planned = decode(request.planned_state.as_ref(), &entry.schema, &entry.ty, "planned state")?;
            let config = decode(request.config.as_ref(), &entry.schema, &entry.ty, "configuration")?;
            let outcome = if planned.is_null() {
                entry.resource.delete(&ctx, prior).await.map(|()| Value::Null)
            } else if prior.is_null() {
                entry.resource.create(&ctx, planned, &config).await
            } else {
                entry.resource.update(&ctx, prior, planned, &config).await
            };
            let encode_state = |mut state: Value| {
                null_write_only(&entry.schema.block, &mut state);
                encode(&state, &entry.ty, "new state")
            };
            match outcome {
                Ok(state) => Ok(encode_state(state)?),
                Err(ApplyError { diagnostics, state: None }) => Err(diagnostics.into()),
                Err(ApplyError { mut diagnostics, state: Some(written) }) => match encode_state(written) {
                    Ok(encoded) => Err(ApplyFailure { written: Some(encoded), diagnostics }),
                    Err(more) => {
                        diagnostics.extend(more);
                        Err(diagnostics.into())
                    }
                },
            }
        }
        .await;
        let (new_state, errors) = match result {
            Ok(state) => (state, None),
            Err(ApplyFailure { written, diagnostics }) => {
                (written.unwrap_or_else(|| request.prior_state.unwrap_or_else(convert::null_value)), Some(diagnostics))
            }
        };
        pb::apply_resource_change::Response {
            new_state: Some(new_state),
            private: request.planned_private,
            diagnostics: finish(&ctx, errors),
            legacy_type_system: false,
            new_identity: None,
        }
    }

    pub(crate) async fn import_resource_state(
        &self,
        request: pb::import_resource_state::Request,
    ) -> pb::import_resource_state::Response {
        let ctx = self.context(request.client_capabilities.as_ref());
        let result = async {
            let entry = self.resource(&request.type_name)?;
            let mut state = cancellable(&ctx, entry.resource.import(&ctx, &request.id)).await?;
            null_write_only(&entry.schema.block, &mut state);
            encode(&state, &entry.ty, "imported state")
        }
        .await;
        let (imported_resources, errors) = match result {
            Ok(state) => (
                vec![pb::import_resource_state::ImportedResource {
                    type_name: request.type_name,
                    state: Some(state),
                    private: Vec::new(),
                    identity: None,
                }],
                None,
            ),
            Err(errors) => (Vec::new(), Some(errors)),
        };
        pb::import_resource_state::Response { imported_resources, diagnostics: finish(&ctx, errors), deferred: None }
    }
}
