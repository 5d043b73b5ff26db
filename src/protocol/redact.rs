//! Redaction at the protocol boundary. The strings of every sensitive or write-only attribute
//! Terraform sends (configuration, plan, state) are remembered for the life of the process, and
//! every diagnostic the provider answers with, and every log line, is cleaned of them: also
//! where they hide inside base64 text, as when an API server quotes the Secret it rejected.
//! Lower layers add secrets they learn elsewhere (a kubeconfig file's token) with [`remember`];
//! the list itself lives in [`crate::secrets`], which the clients use without this layer.
//!
//! This is the last line, not the first: errors are still written to carry no secret.

use super::schema::{Block, Nesting};
use super::value::Value;
pub use crate::secrets::{MIN_SECRET_LEN, REDACTED, forget_all, redact, remember};

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

#[cfg(test)]
mod tests {
    use base64::Engine as _;

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
