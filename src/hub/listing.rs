//! Coalesced refresh reads: one LIST of a namespace serves every refresh read of that kind in
//! one provider process, instead of one GET per resource.
//!
//! Terraform refreshes every resource of a plan in one provider process, ten at a time, and
//! starts a new process for each operation; so a listing made here is never older than the
//! current operation. Our own writes (apply, delete) through the same client drop the listings
//! of their namespace, so a read after our write lists again. A listing in flight while we write
//! finishes into the cell the write detached: only reads that were already waiting for it, and
//! so ran concurrently with the write, see it.
//!
//! Only reads that may be a little coalesced go through here (refresh, hints). Writes decide on
//! a fresh GET. An object missing from a listing with a label selector is read with a GET (it may
//! exist without the label); one missing from a whole-namespace listing does not exist. When the
//! LIST itself fails (RBAC may allow get but not list), reads fall back to one GET each.
//!
//! Listings are read in pages, and each kind decides how its objects are kept ([`Kept`]):
//! typed objects as they are, dynamic objects (ApplicationSets) as JSON text, since their parsed
//! form takes several times the memory and a refresh reads each of them once.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DynamicObject, ListParams};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use super::{HubError, HubObjects, Request};
use crate::halt::Stop;

/// How a listing keeps the objects of a kind between reads.
pub trait Kept: Sized {
    /// Objects per LIST page: bounds what is read and parsed at once, by the size objects of the
    /// kind usually have.
    const PAGE_SIZE: u32 = 100;
    /// The form kept in the listing.
    type Form: Send + Sync;
    fn keep(self) -> Self::Form;
    /// The object back, as a GET would have returned it; `None` if it cannot be.
    fn restore(form: &Self::Form) -> Option<Self>;
}

impl Kept for Secret {
    type Form = Secret;

    /// Cluster Secrets are a few kilobytes: 500 (kubectl's chunk size) is about what a page of
    /// 100 Applications weighs, and a fleet of 500 clusters is one request.
    const PAGE_SIZE: u32 = 500;

    fn keep(self) -> Secret {
        self
    }

    fn restore(form: &Secret) -> Option<Secret> {
        Some(form.clone())
    }
}

impl Kept for DynamicObject {
    type Form = Box<str>;

    fn keep(self) -> Box<str> {
        serde_json::to_string(&self).unwrap_or_default().into_boxed_str()
    }

    fn restore(form: &Box<str>) -> Option<DynamicObject> {
        serde_json::from_str(form).ok()
    }
}

/// Objects of one namespace matching one label selector, by name; `None` when the LIST failed.
type Listing<F> = Arc<OnceCell<Option<Arc<BTreeMap<String, F>>>>>;

/// The listings of one kind this process made, by namespace and label selector. Each entry is a
/// `Listing<K::Form>`; kept untyped so that `HubObjects<K>` needs no bound to forget them.
pub struct Listings<K> {
    by_scope: Mutex<HashMap<(String, String), Arc<dyn Any + Send + Sync>>>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Default for Listings<K> {
    fn default() -> Self {
        Listings { by_scope: Mutex::default(), kind: PhantomData }
    }
}

impl<K> Listings<K> {
    /// Forgets every listing of `namespace`: we just wrote there.
    pub fn forget(&self, namespace: &str) {
        self.by_scope.lock().unwrap_or_else(|e| e.into_inner()).retain(|(ns, _), _| ns != namespace);
    }
}

impl<K: Kept> Listings<K>
where
    K::Form: 'static,
{
    fn listing(&self, namespace: &str, selector: &str) -> Listing<K::Form> {
        let mut scopes = self.by_scope.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = || -> Listing<K::Form> { Arc::default() };
        let entry = scopes.entry((namespace.to_string(), selector.to_string())).or_insert_with(|| fresh());
        // Only this kind's listings are ever stored here.
        entry.clone().downcast().unwrap_or_else(|_| fresh())
    }
}

impl<K> HubObjects<K>
where
    K: kube::Resource + Kept + Clone + DeserializeOwned + fmt::Debug,
    K::Form: 'static,
{
    /// Reads one object for a refresh from this process's listing of the namespace's objects
    /// matching `label_selector` (`""` lists them all), listing on first use. `Ok(None)` when it
    /// does not exist.
    ///
    /// # Errors
    /// Those of the GET it falls back to, and the listing's own when the stop or the deadline
    /// ended it.
    pub async fn get_listed(&self, ctx: &Stop, name: &str, label_selector: &str) -> Result<Option<K>, HubError> {
        if let Some(listed) = self.listed(ctx, label_selector).await? {
            match listed.get(name).map(K::restore) {
                Some(Some(object)) => return Ok(Some(object)),
                None if label_selector.is_empty() => return Ok(None),
                _ => {}
            }
        }
        self.get(ctx, name).await
    }

    /// The namespace's objects matching `label_selector` as kept, from this process's listing
    /// (listing on first use); `None` when the hub did not list them (reads then go one by one).
    ///
    /// # Errors
    /// The listing's error when the stop or the deadline ended it: the read ends there too.
    pub async fn listed(
        &self,
        ctx: &Stop,
        label_selector: &str,
    ) -> Result<Option<Arc<BTreeMap<String, K::Form>>>, HubError> {
        let listing = self.listings.listing(&self.namespace, label_selector);
        let listed = listing
            .get_or_try_init(|| async {
                match self.list_pages(ctx, label_selector).await {
                    Ok(by_name) => {
                        crate::tf_debug!(
                            "hub: listed for refresh",
                            kind = self.kind,
                            namespace = self.namespace,
                            objects = by_name.len()
                        );
                        Ok(Some(Arc::new(by_name)))
                    }
                    // A listing ended by the stop or a reader's deadline says nothing about the
                    // hub: it is not kept, and the next read lists again under its own deadline.
                    Err(e) if e.halted() => Err(e),
                    // RBAC may allow get but not list, and a failing LIST need not mean failing
                    // GETs: reads go one by one, each with its own retries and error.
                    Err(e) => {
                        crate::tf_debug!(
                            "hub: cannot list, reading one by one",
                            kind = self.kind,
                            error = e.to_string()
                        );
                        Ok(None)
                    }
                }
            })
            .await;
        listed.cloned()
    }

    /// Lists page by page, keeping each page's objects before parsing the next.
    pub(super) async fn list_pages(
        &self,
        ctx: &Stop,
        label_selector: &str,
    ) -> Result<BTreeMap<String, K::Form>, HubError> {
        let object = format!("{} in namespace {}", self.kind, self.namespace);
        let mut by_name = BTreeMap::new();
        let mut params = ListParams::default().labels(label_selector).limit(K::PAGE_SIZE);
        loop {
            let page = self.call(ctx, &object, Request::Read, || self.api.list(&params)).await?;
            let next = page.metadata.continue_.clone().filter(|token| !token.is_empty());
            for item in page.items {
                if let Some(name) = item.meta().name.clone() {
                    by_name.insert(name, item.keep());
                }
            }
            match next {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(by_name),
            }
        }
    }
}
