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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use super::{HubError, HubObjects};
use crate::protocol::Context;

/// Objects of one namespace matching one label selector, by name; `None` when the LIST failed.
type Listing<K> = Arc<OnceCell<Option<Arc<BTreeMap<String, K>>>>>;

/// The listings of one kind this process made, by namespace and label selector.
pub struct Listings<K> {
    by_scope: Mutex<HashMap<(String, String), Listing<K>>>,
}

impl<K> Default for Listings<K> {
    fn default() -> Self {
        Listings { by_scope: Mutex::default() }
    }
}

impl<K> Listings<K> {
    fn listing(&self, namespace: &str, selector: &str) -> Listing<K> {
        let mut scopes = self.by_scope.lock().unwrap_or_else(|e| e.into_inner());
        scopes.entry((namespace.to_string(), selector.to_string())).or_default().clone()
    }

    /// Forgets every listing of `namespace`: we just wrote there.
    pub fn forget(&self, namespace: &str) {
        self.by_scope.lock().unwrap_or_else(|e| e.into_inner()).retain(|(ns, _), _| ns != namespace);
    }
}

impl<K> HubObjects<K>
where
    K: kube::Resource + Clone + DeserializeOwned + fmt::Debug,
{
    /// Reads one object for a refresh from this process's listing of the namespace's objects
    /// matching `label_selector` (`""` lists them all), listing on first use. `Ok(None)` when it
    /// does not exist.
    ///
    /// # Errors
    /// Those of the GET it falls back to.
    pub async fn get_listed(&self, ctx: &Context, name: &str, label_selector: &str) -> Result<Option<K>, HubError> {
        if let Some(listed) = self.listed(ctx, label_selector).await {
            match listed.get(name) {
                Some(object) => return Ok(Some(object.clone())),
                None if label_selector.is_empty() => return Ok(None),
                None => {}
            }
        }
        self.get(ctx, name).await
    }

    /// The namespace's objects matching `label_selector`, from this process's listing (listing on
    /// first use); `None` when they cannot be listed.
    pub async fn listed(&self, ctx: &Context, label_selector: &str) -> Option<Arc<BTreeMap<String, K>>> {
        let listing = self.listings.listing(&self.namespace, label_selector);
        let listed = listing
            .get_or_try_init(|| async {
                match self.list(ctx, label_selector).await {
                    Ok(items) => {
                        let by_name: BTreeMap<String, K> = items
                            .into_iter()
                            .filter_map(|object| Some((object.meta().name.clone()?, object)))
                            .collect();
                        crate::tf_debug!(
                            "hub: listed for refresh",
                            kind = self.kind,
                            namespace = self.namespace,
                            objects = by_name.len()
                        );
                        Ok(Some(Arc::new(by_name)))
                    }
                    // A stopped request says nothing about the listing: the next read tries again.
                    Err(HubError::Cancelled) => Err(HubError::Cancelled),
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
        listed.ok().cloned().flatten()
    }
}
