//! Request accounting: counts per (verb, resource), writes, and a log, so
//! tests can prove what the provider did (or did not) send.

use std::collections::BTreeMap;

use serde::Serialize;

/// One API request as the server saw it (control endpoints are not recorded).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Kubernetes verb: get, list, create, update, patch, delete; for
    /// non-resource paths the lower-case HTTP method.
    pub verb: String,
    /// Plural resource name, or the path for non-resource requests.
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_manager: Option<String>,
    /// HTTP status sent; 0 when the connection was dropped on purpose.
    pub status: u16,
}

impl RecordedRequest {
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStats {
    pub total: u64,
    pub writes: u64,
    /// `"<verb> <resource>"` → count, e.g. `"patch secrets"`.
    pub counts: BTreeMap<String, u64>,
    pub log: Vec<RecordedRequest>,
}

impl RequestStats {
    pub fn record(&mut self, request: RecordedRequest) {
        self.total += 1;
        if request.is_write() {
            self.writes += 1;
        }
        *self.counts.entry(format!("{} {}", request.verb, request.resource)).or_default() += 1;
        self.log.push(request);
    }

    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.counts.get(&format!("{verb} {resource}")).copied().unwrap_or(0)
    }
}
