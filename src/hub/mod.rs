//! The hub cluster's Kubernetes API: connection settings, the client, and the few operations the
//! resources need (get, server-side apply, list by label, delete), with typed errors and
//! bounded retries that give way to StopProvider and to the operation's deadline.
//!
//! Nothing here knows what an Argo CD cluster Secret means; resources build the objects.
//! Cancellation and deadlines come as the neutral [`crate::halt::Stop`] and [`Deadline`]; the
//! secrets it learns go to [`crate::secrets`], which the protocol boundary cleans every message with.
//!
//! May import: the neutral modules (`halt`, `secrets`, `unanswered`). Never `protocol`,
//! `provider`, `resources`, `data_sources`, `tf` or `argocd`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::halt::{Deadline, Halt, Stop};

mod applications;
pub mod clusters;
pub mod deletion;
pub mod drain;
mod error;
pub mod gate;
mod listing;
pub mod ready;
mod settings;

pub use error::{FieldConflict, HubError, InvalidField};
use error::{is_transient, may_have_happened, retry_delay};
pub use settings::{ExecSettings, HubConfigError, HubSettings, KubeconfigProblem, expand_home, select_context};
use settings::{check_user_secrets, describe_auth_error, kubeconfig_for};

/// The field manager of every write: what `managedFields` shows as ours.
pub const FIELD_MANAGER: &str = "terraform-provider-gitopsbridge";

/// How many times a throttled or 5xx request is retried.
const MAX_RETRIES: u32 = 5;
/// A hung response fails instead of blocking `terraform apply` forever; `hub.request_timeout`
/// overrides it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Argo CD's ApplicationSet, for the resources that manage them through [`DynamicObject`].
pub fn application_set_resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "ApplicationSet".into(),
        plural: "applicationsets".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// A connected (lazily: no request is made until an operation runs) client for the hub.
#[derive(Clone)]
pub struct HubClient {
    client: kube::Client,
    secret_listings: Arc<listing::Listings<Secret>>,
    set_listings: Arc<listing::Listings<DynamicObject>>,
    application_listings: Arc<listing::Listings<crate::argocd::application::Application>>,
    fresh_applications: Arc<applications::FreshListings>,
}

impl HubClient {
    /// Builds the client from the `hub` settings. Reads kubeconfig files but makes no request.
    ///
    /// # Errors
    /// [`HubError::Config`] when the kubeconfig cannot be read or the context is missing.
    pub async fn connect(settings: &HubSettings) -> Result<HubClient, HubError> {
        let (kubeconfig, options) = kubeconfig_for(settings)?;
        HubClient::build(kubeconfig, &options, settings.request_timeout.unwrap_or(READ_TIMEOUT)).await
    }

    /// Builds the client from a loaded kubeconfig (as [`select_context`] leaves it). Makes no
    /// request, but runs the user's exec credential plugin, if any.
    ///
    /// # Errors
    /// [`HubError::Config`] when the kubeconfig is not usable; [`HubError::Credentials`] when the
    /// exec plugin fails.
    pub async fn from_kubeconfig(kubeconfig: Kubeconfig, options: &KubeConfigOptions) -> Result<HubClient, HubError> {
        HubClient::build(kubeconfig, options, READ_TIMEOUT).await
    }

    /// [`HubClient::from_kubeconfig`] whose requests wait `read_timeout` for their answers.
    async fn build(
        kubeconfig: Kubeconfig,
        options: &KubeConfigOptions,
        read_timeout: Duration,
    ) -> Result<HubClient, HubError> {
        check_user_secrets(&kubeconfig, options)?;
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, options)
            .await
            .map_err(|e| HubConfigError::Kubeconfig { source: e.into() })?;
        // Our own retry loop (below) honours StopProvider and the deadline, and retries 500s and
        // dropped connections.
        config.default_retry = false;
        config.read_timeout = Some(read_timeout);
        config.reset_reader_on_write = true;
        let client = kube::Client::try_from(config).map_err(|source| match source {
            // The exec plugin runs here, the first time.
            kube::Error::Auth(e) => {
                HubError::Credentials { object: "the hub client".into(), reason: describe_auth_error(&e) }
            }
            source => HubConfigError::Client { source }.into(),
        })?;
        Ok(HubClient::from_client(client))
    }

    /// Wraps an existing kube client (tests, or callers that build their own).
    pub fn from_client(client: kube::Client) -> HubClient {
        HubClient {
            client,
            secret_listings: Arc::default(),
            set_listings: Arc::default(),
            application_listings: Arc::default(),
            fresh_applications: Arc::default(),
        }
    }

    /// The Secrets of one namespace.
    pub fn secrets(&self, namespace: &str) -> HubObjects<Secret> {
        HubObjects {
            api: Api::namespaced(self.client.clone(), namespace),
            kind: "Secret".into(),
            namespace: namespace.to_string(),
            custom_resource: None,
            listings: self.secret_listings.clone(),
            deadline: None,
        }
    }

    /// The ApplicationSets of one namespace.
    pub fn application_sets(&self, namespace: &str) -> HubObjects<DynamicObject> {
        let resource = application_set_resource();
        HubObjects {
            api: Api::namespaced_with(self.client.clone(), namespace, &resource),
            kind: resource.kind.clone(),
            namespace: namespace.to_string(),
            custom_resource: Some(format!("{}.{}", resource.plural, resource.group)),
            listings: self.set_listings.clone(),
            deadline: None,
        }
    }
}

/// One kind of object in one namespace, with retrying, typed-error operations.
pub struct HubObjects<K> {
    api: Api<K>,
    kind: String,
    namespace: String,
    /// `plural.group` of a custom resource, to recognise a missing CRD.
    custom_resource: Option<String>,
    /// What this process listed of this kind, for refresh reads (see `listing`).
    listings: Arc<listing::Listings<K>>,
    /// When the operation these calls belong to must be over.
    deadline: Option<Deadline>,
}

impl<K> HubObjects<K>
where
    K: Clone + DeserializeOwned + fmt::Debug,
{
    /// Bounds every call, its retries included, by the operation's deadline.
    pub fn until(mut self, deadline: Deadline) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// `Secret argocd/eks-green`: how errors name an object.
    pub fn describe(&self, name: &str) -> String {
        format!("{} {}/{}", self.kind, self.namespace, name)
    }

    /// Reads one object; `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// Any [`HubError`] but `NotFound`.
    pub async fn get(&self, ctx: &Stop, name: &str) -> Result<Option<K>, HubError> {
        let object = self.describe(name);
        self.call(ctx, &object, Request::Read, || self.api.get_opt(name)).await
    }

    /// Server-side applies `object` (which must carry apiVersion, kind and metadata.name) as
    /// [`FIELD_MANAGER`], with strict field validation. `force` takes over fields other
    /// managers own instead of failing with [`HubError::Conflict`].
    ///
    /// # Errors
    /// `Conflict`, `Invalid`, `Forbidden`, `NotFound` (namespace missing), `CrdMissing`, …
    pub async fn apply<P>(&self, ctx: &Stop, name: &str, object: &P, force: bool) -> Result<K, HubError>
    where
        P: Serialize + fmt::Debug + Sync,
    {
        self.apply_as(ctx, name, object, FIELD_MANAGER, force).await
    }

    /// [`HubObjects::apply`] as another field manager of the provider's.
    ///
    /// # Errors
    /// Those of [`HubObjects::apply`].
    pub async fn apply_as<P>(
        &self,
        ctx: &Stop,
        name: &str,
        object: &P,
        manager: &str,
        force: bool,
    ) -> Result<K, HubError>
    where
        P: Serialize + fmt::Debug + Sync,
    {
        let mut params = PatchParams::apply(manager).validation_strict();
        if force {
            params = params.force();
        }
        let described = self.describe(name);
        let patch = Patch::Apply(object);
        let written = self.call(ctx, &described, Request::Write, || self.api.patch(name, &params, &patch)).await;
        // Even a failed write may have reached the server.
        self.listings.forget(&self.namespace);
        written
    }

    /// Lists the objects matching a label selector (`key=value,other`).
    ///
    /// # Errors
    /// Any [`HubError`].
    pub async fn list(&self, ctx: &Stop, label_selector: &str) -> Result<Vec<K>, HubError> {
        let params = ListParams::default().labels(label_selector);
        let object = format!("{} in namespace {}", self.kind, self.namespace);
        let list = self.call(ctx, &object, Request::Read, || self.api.list(&params)).await?;
        Ok(list.items)
    }

    /// Deletes one object; an object already gone is success. Returns once the API server has
    /// accepted the deletion: `None` when the object is gone, or the object as it still exists
    /// while finalizers hold it.
    ///
    /// # Errors
    /// Any [`HubError`] but `NotFound`.
    pub async fn delete(&self, ctx: &Stop, name: &str) -> Result<Option<K>, HubError> {
        let object = self.describe(name);
        let params = DeleteParams::default();
        let deleted = self.call(ctx, &object, Request::Write, || self.api.delete(name, &params)).await;
        self.listings.forget(&self.namespace);
        match deleted {
            Ok(deleted) => Ok(deleted.left()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs one API call, retrying transient failures with backoff. After StopProvider or past
    /// the deadline no attempt starts and no backoff is waited out: a retry that could only start
    /// after the deadline reports the last answer at once. An attempt in flight then is abandoned
    /// only if it is a read; a write runs to its answer, bounded by the client's read timeout.
    async fn call<T, F, Fut>(&self, ctx: &Stop, object: &str, request: Request, mut op: F) -> Result<T, HubError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let classify = |error| HubError::classify(error, object, self.custom_resource.as_deref());
        let deadline = self.deadline.as_ref();
        let (mut attempts, mut uncertain, mut last) = (0, false, None);
        loop {
            if let Some(halt) = Halt::now(ctx, deadline) {
                let object = object.to_string();
                return Err(match (halt, last) {
                    (halt, Some(last)) => HubError::GaveUp { object, attempts, halt: Some(halt), uncertain, last },
                    (Halt::Stop, None) => HubError::Cancelled,
                    (Halt::Deadline(expired), None) => HubError::TimedOut { object, expired },
                });
            }
            let result = match request {
                Request::Read => tokio::select! {
                    result = op() => result,
                    halt = Halt::next(ctx, deadline) => return Err(match halt {
                        Halt::Stop => HubError::Cancelled,
                        Halt::Deadline(expired) => HubError::TimedOut { object: object.to_string(), expired },
                    }),
                },
                Request::Write => op().await,
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            attempts += 1;
            uncertain |= request == Request::Write && may_have_happened(&error);
            if !is_transient(&error) {
                return Err(classify(error));
            }
            let delay = retry_delay(&error, attempts - 1).filter(|_| attempts <= MAX_RETRIES);
            let gave_up = |halt, error| HubError::GaveUp {
                object: object.to_string(),
                attempts,
                halt,
                uncertain,
                last: Box::new(classify(error)),
            };
            let Some(delay) = delay else { return Err(gave_up(None, error)) };
            if let Some(deadline) = deadline
                && tokio::time::Instant::now() + delay >= deadline.at
            {
                return Err(gave_up(Some(Halt::Deadline(deadline.expired())), error));
            }
            crate::tf_debug!("hub: retrying", object = object, attempt = attempts, delay_ms = delay.as_millis() as u64);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = ctx.cancelled() => return Err(gave_up(Some(Halt::Stop), error)),
            }
            last = Some(Box::new(classify(error)));
        }
    }
}

/// What a request does to the hub, which decides what happens to it in flight when Terraform asks
/// the provider to stop or the deadline passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// A read: dropped at once, nothing is lost.
    Read,
    /// A write: it runs to its answer, because a write abandoned on the way may still land and
    /// leave an object on the hub that Terraform never hears of.
    Write,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (kubeconfig target): a token with a line break made kube panic while
    /// building the client.
    #[tokio::test]
    async fn a_token_with_a_line_break_is_trimmed_or_refused_not_a_panic() {
        // As `protocol::tls::install_crypto_provider` does; the client needs nothing from `protocol`.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let settings = HubSettings {
            host: Some("https://10.0.0.1:6443".into()),
            token: Some("tok-1e5-from-a-file\n".into()),
            ..Default::default()
        };
        let (kubeconfig, options) = kubeconfig_for(&settings).unwrap();
        let token =
            serde_json::to_value(kubeconfig.auth_infos[0].auth_info.as_ref().unwrap()).unwrap()["token"].clone();
        assert_eq!(token, "tok-1e5-from-a-file");
        HubClient::from_kubeconfig(kubeconfig, &options).await.expect("a trimmed token is sent");

        // The fuzzer's input: `host` "\n", `token` ": Co" and so on; here the token keeps an
        // inner line break, as a kubeconfig file can spell it.
        let kubeconfig = Kubeconfig::from_yaml(
            "clusters:\n- name: c\n  cluster:\n    server: https://a:6443\ncontexts:\n- name: a\n  context:\n    cluster: c\n    user: u\ncurrent-context: a\nusers:\n- name: u\n  user:\n    token: \"tok-1e5\\nsecond-line\"\n",
        )
        .unwrap();
        let (kubeconfig, options) = select_context(kubeconfig, &HubSettings::default()).unwrap();
        match HubClient::from_kubeconfig(kubeconfig, &options).await {
            Err(HubError::Config(HubConfigError::UnsendableToken)) => {}
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a token with a line break was accepted"),
        }
    }
}
