//! Argo CD Applications on the hub: one shared paged listing per namespace for the readers of a
//! process, fresh listings for waits, and the refresh request that makes Argo CD compare an
//! Application with Git now.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::listing::Kept;
use super::{FIELD_MANAGER, HubClient, HubError, HubObjects, Request};
use crate::argocd::application::{Application, GROUP, PLURAL, REFRESH_ANNOTATION};
use crate::halt::Stop;

impl Kept for Application {
    type Form = Application;

    fn keep(self) -> Application {
        self.slimmed()
    }

    fn restore(form: &Application) -> Option<Application> {
        Some(form.clone())
    }
}

impl HubClient {
    /// The Applications of one namespace.
    pub fn applications(&self, namespace: &str) -> HubObjects<Application> {
        HubObjects {
            api: Api::namespaced(self.client.clone(), namespace),
            kind: "Application".into(),
            namespace: namespace.to_string(),
            custom_resource: Some(format!("{PLURAL}.{GROUP}")),
            listings: self.application_listings.clone(),
            deadline: None,
        }
    }
}

impl HubObjects<Application> {
    /// Every Application of the namespace, from this process's listing (one paged LIST shared by
    /// every reader of the process).
    ///
    /// # Errors
    /// The LIST's: unlike Secrets, there is nothing to fall back to, so a hub that forbids
    /// listing Applications or lacks their CRD is an error that says so.
    pub async fn all_listed(&self, ctx: &Stop) -> Result<Arc<BTreeMap<String, Application>>, HubError> {
        match self.listed(ctx, "").await? {
            Some(listed) => Ok(listed),
            // The shared listing failed and kept no reason: ask once more to get one.
            None => Ok(Arc::new(self.list_pages(ctx, "").await?)),
        }
    }

    /// Every Application of the namespace as it is now, bypassing the shared listing.
    ///
    /// # Errors
    /// The LIST's.
    pub async fn all_now(&self, ctx: &Stop) -> Result<Vec<Application>, HubError> {
        Ok(self.list_pages(ctx, "").await?.into_values().collect())
    }

    /// Asks Argo CD to compare the Application with Git now (as `argocd app get --refresh`
    /// does): a merge patch of one annotation, which Argo CD removes when it is done.
    ///
    /// # Errors
    /// Those of the PATCH; a missing Application is `NotFound`.
    pub async fn request_refresh(&self, ctx: &Stop, name: &str) -> Result<(), HubError> {
        let object = self.describe(name);
        let patch = Patch::Merge(json!({"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}}));
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        self.call(ctx, &object, Request::Write, || self.api.patch(name, &params, &patch)).await?;
        Ok(())
    }
}
