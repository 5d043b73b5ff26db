//! The secret values this process has learned, and the cleaning of text from them: also where
//! they hide inside base64 text, as when an API server quotes the Secret it rejected.
//!
//! The protocol boundary fills it with every sensitive or write-only attribute Terraform sends
//! and cleans every diagnostic and log line with it (`protocol::redact`); the hub client adds the
//! secrets it learns elsewhere (a kubeconfig file's token) and cleans the command output it
//! quotes. Knows nothing of Terraform.
//!
//! May import: nothing of this crate.

use std::borrow::Cow;
use std::sync::RwLock;

use base64::Engine as _;

/// What a secret is replaced with.
pub const REDACTED: &str = "(sensitive value)";

/// Shorter values are not searched for: blanking every "ab" would garble messages.
pub const MIN_SECRET_LEN: usize = 4;

/// Base64 runs shorter than this are not decoded: they cannot hold a secret worth finding.
const MIN_BASE64_RUN: usize = 8;

/// Longest first, so that a secret containing another is blanked whole.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers one secret value; too short and already known values are ignored.
pub fn remember(secret: &str) {
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    if SECRETS.read().unwrap_or_else(|e| e.into_inner()).iter().any(|s| s == secret) {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        let at = secrets.partition_point(|s| s.len() >= secret.len());
        secrets.insert(at, secret.to_string());
    }
}

/// Forgets every remembered secret: for fuzzing, where each input stands for a new process and
/// the store would otherwise grow without bound.
pub fn forget_all() {
    SECRETS.write().unwrap_or_else(|e| e.into_inner()).clear();
}

/// `text` without any remembered secret, as it is or base64-encoded.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut clean = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if clean.contains(secret.as_str()) {
            clean = Cow::Owned(clean.replace(secret.as_str(), REDACTED));
        }
    }
    match redact_base64(&clean, &secrets) {
        Some(cleaner) => Cow::Owned(cleaner),
        None => clean,
    }
}

/// Replaces each run of base64 text that decodes to something holding a secret; `None` when
/// there is none.
fn redact_base64(text: &str, secrets: &[String]) -> Option<String> {
    // Both alphabets; padding only ends a run, so `key=<base64>` splits at the `=`.
    let in_alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !in_alphabet(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && in_alphabet(bytes[i]) {
            i += 1;
        }
        while i < bytes.len() && bytes[i] == b'=' {
            i += 1;
        }
        if i - start >= MIN_BASE64_RUN && decodes_to_secret(&text[start..i], secrets) {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = i;
        }
    }
    (copied > 0).then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

fn decodes_to_secret(run: &str, secrets: &[String]) -> bool {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let run = run.trim_end_matches('=');
    [STANDARD_NO_PAD, URL_SAFE_NO_PAD].iter().filter_map(|engine| engine.decode(run).ok()).any(|decoded| {
        let decoded = String::from_utf8_lossy(&decoded);
        secrets.iter().any(|s| decoded.contains(s.as_str()))
    })
}
