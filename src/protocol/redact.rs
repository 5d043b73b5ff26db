//! Redaction at the protocol boundary. The strings of every sensitive or write-only attribute
//! Terraform sends (configuration, plan, state) are remembered for the life of the process, and
//! every diagnostic the provider answers with, and every log line, is cleaned of them: also
//! where they hide inside base64 text, as when an API server quotes the Secret it rejected.
//! Lower layers add secrets they learn elsewhere (a kubeconfig file's token) with [`remember`].
//!
//! This is the last line, not the first: errors are still written to carry no secret.

use std::borrow::Cow;
use std::sync::RwLock;

use base64::Engine as _;

use super::schema::{Block, Nesting};
use super::value::Value;

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

/// Remembers the strings of every sensitive or write-only attribute of `value`, a value of
/// `block` (nested blocks included; unknown and null parts are skipped).
pub fn remember_sensitive(block: &Block, value: &Value) {
    let Value::Map(attributes) = value else { return };
    for attribute in block.attributes.iter().filter(|a| a.sensitive || a.write_only) {
        if let Some(value) = attributes.get(&attribute.name) {
            remember_strings(value);
        }
    }
    for nested in &block.blocks {
        match (nested.nesting, attributes.get(&nested.type_name)) {
            (Nesting::List | Nesting::Set, Some(Value::List(items))) => {
                items.iter().for_each(|item| remember_sensitive(&nested.block, item));
            }
            (Nesting::Map, Some(Value::Map(items))) => {
                items.values().for_each(|item| remember_sensitive(&nested.block, item));
            }
            (Nesting::Single | Nesting::Group, Some(item)) => remember_sensitive(&nested.block, item),
            _ => {}
        }
    }
}

fn remember_strings(value: &Value) {
    match value {
        Value::String(s) => remember(s),
        Value::List(items) => items.iter().for_each(remember_strings),
        Value::Map(items) => items.values().for_each(remember_strings),
        Value::Dynamic(_, inner) => remember_strings(inner),
        Value::Unknown | Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::{Attribute, NestedBlock};
    use crate::protocol::value::Type;

    // The store is process-wide: each test uses values no other test remembers.

    #[test]
    fn sensitive_and_write_only_strings_of_nested_blocks_are_remembered() {
        let block = Block::new("")
            .attribute(Attribute::optional("name", Type::String, ""))
            .attribute(Attribute::optional("token", Type::String, "").sensitive())
            .attribute(Attribute::optional("token_wo", Type::String, "").write_only())
            .block(NestedBlock::at_most_one(
                "exec",
                Block::new("").attribute(Attribute::optional("env", Type::map(Type::String), "").sensitive()),
            ));
        let value = Value::object([
            ("name", Value::from("plain-name-7c1")),
            ("token", Value::from("tok-7c1-secret")),
            ("token_wo", Value::from("wo-7c1-secret")),
            (
                "exec",
                Value::List(vec![Value::object([("env", Value::object([("KEY", Value::from("env-7c1-secret"))]))])]),
            ),
        ]);
        remember_sensitive(&block, &value);
        let text = "plain-name-7c1 tok-7c1-secret wo-7c1-secret env-7c1-secret KEY";
        assert_eq!(redact(text), format!("plain-name-7c1 {REDACTED} {REDACTED} {REDACTED} KEY"));
    }

    #[test]
    fn secrets_inside_base64_are_found() {
        remember("bearer-3f9-secret");
        let config = r#"{"bearerToken":"bearer-3f9-secret","tlsClientConfig":{"insecure":false}}"#;
        let echoed = format!(
            "Secret \"x\" is invalid: data[config]: Invalid value: \"{}\": rejected",
            base64::engine::general_purpose::STANDARD.encode(config)
        );
        assert_eq!(
            redact(&echoed),
            format!("Secret \"x\" is invalid: data[config]: Invalid value: \"{REDACTED}\": rejected")
        );
        let harmless = "Secret argocd/leak-token-3f9 not found: c2VjcmV0cyAieCIgbm90IGZvdW5k";
        assert_eq!(redact(harmless), harmless);
    }

    #[test]
    fn the_longest_secret_wins_and_short_values_are_ignored() {
        remember("abc");
        remember("long-5e2-secret");
        remember("long-5e2-secret-and-more");
        assert_eq!(redact("abc long-5e2-secret-and-more long-5e2-secret"), format!("abc {REDACTED} {REDACTED}"));
    }
}
