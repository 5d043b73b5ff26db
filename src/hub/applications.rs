//! Argo CD Applications on the hub: one shared paged listing per namespace for the readers of a
//! process, fresh listings for waits (shared by the waits that ask at the same time), and the
//! refresh request that makes Argo CD compare an Application with Git now.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::listing::Kept;
use super::{FIELD_MANAGER, HubClient, HubError, HubObjects, Request};
use crate::argocd::application::{Application, ClusterRef, GROUP, PLURAL, REFRESH_ANNOTATION};
use crate::halt::{Deadline, Halt, Stop};

impl Kept for Application {
    type Form = Application;

    fn keep(self) -> Application {
        self.slimmed()
    }

    fn restore(form: &Application) -> Option<Application> {
        Some(form.clone())
    }
}

/// Fresh listings of Applications, per namespace, shared by the waits of a process.
///
/// Every wait (`wait_for_ready`, the traffic gate, a drain) needs the Applications as they are
/// after its own last step, and polls. Each listing its own, fifty resources waiting at once
/// would each list the whole namespace every second, and hold as many copies of it. Here a
/// caller takes the first listing that *started* after it asked: the listing in flight when it
/// asks started too early, so it queues, and every caller queued behind one listing shares the
/// next. So listings run one at a time per namespace, none is older than the call it answers,
/// and one copy of the namespace's Applications is kept.
#[derive(Default)]
pub struct FreshListings {
    by_namespace: Mutex<HashMap<String, Arc<Fresh>>>,
}

#[derive(Default)]
struct Fresh {
    state: Mutex<FreshState>,
    /// Held while a listing runs.
    running: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct FreshState {
    /// Listings started so far: the next one gets this number.
    started: u64,
    /// The newest finished listing and its number.
    last: Option<(u64, Arc<Vec<Application>>)>,
}

impl FreshListings {
    fn namespace(&self, namespace: &str) -> Arc<Fresh> {
        let mut by_namespace = self.by_namespace.lock().unwrap_or_else(|e| e.into_inner());
        by_namespace.entry(namespace.to_string()).or_default().clone()
    }
}

impl Fresh {
    fn state(&self) -> std::sync::MutexGuard<'_, FreshState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl HubClient {
    /// Every Application of `namespace` as it is now: from a listing that started after this
    /// call, shared with the callers that asked while the previous one ran ([`FreshListings`]).
    ///
    /// # Errors
    /// The LIST's (a failed listing is not shared: each caller queued behind it lists again),
    /// and the stop or the deadline while queued.
    pub async fn applications_now(
        &self,
        ctx: &Stop,
        deadline: &Deadline,
        namespace: &str,
    ) -> Result<Arc<Vec<Application>>, HubError> {
        let fresh = self.fresh_applications.namespace(namespace);
        // A listing numbered `wanted` or later starts after this point.
        let wanted = fresh.state().started;
        let _running = tokio::select! {
            running = fresh.running.lock() => running,
            halt = Halt::next(ctx, Some(deadline)) => return Err(match halt {
                Halt::Stop => HubError::Cancelled,
                Halt::Deadline(expired) => HubError::TimedOut {
                    object: format!("Applications in namespace {namespace}"),
                    expired,
                },
            }),
        };
        let number = {
            let mut state = fresh.state();
            if let Some((number, apps)) = &state.last
                && *number >= wanted
            {
                return Ok(apps.clone());
            }
            // Nobody asking from now on can take the older listing: let it go before the new
            // one is read, so that one copy of the namespace is kept, not two.
            state.last = None;
            state.started += 1;
            state.started - 1
        };
        let apps = Arc::new(self.applications(namespace).until(*deadline).all_now(ctx).await?);
        fresh.state().last = Some((number, apps.clone()));
        Ok(apps)
    }

    /// The Applications of `namespaces` that target `cluster`, as they are now.
    ///
    /// # Errors
    /// The LISTs'.
    pub async fn cluster_applications_now(
        &self,
        ctx: &Stop,
        deadline: &Deadline,
        namespaces: &[String],
        cluster: &ClusterRef,
    ) -> Result<Vec<Application>, HubError> {
        let mut targeting = Vec::new();
        for namespace in namespaces {
            let apps = self.applications_now(ctx, deadline, namespace).await?;
            targeting.extend(apps.iter().filter(|app| app.targets(cluster)).cloned());
        }
        Ok(targeting)
    }

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
