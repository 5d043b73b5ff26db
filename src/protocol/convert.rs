//! Conversions between our types and tfplugin6 messages: schemas, diagnostics, attribute paths,
//! dynamic values and client capabilities.

use super::codec::CodecError;
use super::diagnostics::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
use super::provider_api::ClientCapabilities;
use super::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use super::value::{Type, Value};
use super::wire::tfplugin6 as pb;
use super::{json, msgpack};

pub fn schema(schema: &Schema) -> pb::Schema {
    pb::Schema { version: schema.version, block: Some(block(&schema.block, schema.version)) }
}

fn block(block: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: block.attributes.iter().map(attribute).collect(),
        block_types: block.blocks.iter().map(nested_block).collect(),
        description: block.description.clone(),
        description_kind: pb::StringKind::Plain as i32,
        deprecated: block.deprecated,
    }
}

/// Only `type` is ever set: Terraform rejects (1.11: panics on) attributes with both `type` and
/// `nested_type`, and this provider models nested structure as blocks.
fn attribute(attribute: &Attribute) -> pb::schema::Attribute {
    pb::schema::Attribute {
        name: attribute.name.clone(),
        r#type: type_json(&attribute.ty),
        nested_type: None,
        description: attribute.description.clone(),
        required: attribute.required,
        optional: attribute.optional,
        computed: attribute.computed,
        sensitive: attribute.sensitive,
        description_kind: pb::StringKind::Plain as i32,
        deprecated: attribute.deprecated,
        write_only: attribute.write_only,
    }
}

fn nested_block(nested: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode;
    let nesting = match nested.nesting {
        Nesting::Single => NestingMode::Single,
        Nesting::Group => NestingMode::Group,
        Nesting::List => NestingMode::List,
        Nesting::Set => NestingMode::Set,
        Nesting::Map => NestingMode::Map,
    };
    pb::schema::NestedBlock {
        type_name: nested.type_name.clone(),
        block: Some(block(&nested.block, 0)),
        nesting: nesting as i32,
        min_items: nested.min_items,
        max_items: nested.max_items,
    }
}

/// A type in Terraform's JSON notation, as the `type` fields carry it.
pub fn type_json(ty: &Type) -> Vec<u8> {
    ty.to_json().to_string().into_bytes()
}

pub fn diagnostics(diagnostics: &Diagnostics) -> Vec<pb::Diagnostic> {
    diagnostics.0.iter().map(diagnostic).collect()
}

fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    let severity = match d.severity {
        Severity::Error => pb::diagnostic::Severity::Error,
        Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: severity as i32,
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.attribute.as_ref().map(attribute_path),
    }
}

pub fn attribute_path(path: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::{Step, step::Selector};
    let steps = path
        .0
        .iter()
        .map(|step| Step {
            selector: Some(match step {
                PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                PathStep::Key(key) => Selector::ElementKeyString(key.clone()),
                PathStep::Index(index) => Selector::ElementKeyInt(*index),
            }),
        })
        .collect();
    pb::AttributePath { steps }
}

/// Decodes a value Terraform sent: msgpack when present, else JSON. A missing or empty value is
/// null (for example an unset `provider_meta`).
pub fn decode(value: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, CodecError> {
    match value {
        Some(v) if !v.msgpack.is_empty() => msgpack::decode(&v.msgpack, ty),
        Some(v) if !v.json.is_empty() => json::decode(&v.json, ty),
        _ => Ok(Value::Null),
    }
}

/// Encodes a value for Terraform, always as msgpack.
pub fn encode(value: &Value, ty: &Type) -> Result<pb::DynamicValue, CodecError> {
    Ok(pb::DynamicValue { msgpack: msgpack::encode(value, ty)?, json: Vec::new() })
}

/// A null of any type, as msgpack.
pub fn null_value() -> pb::DynamicValue {
    pb::DynamicValue { msgpack: vec![0xc0], json: Vec::new() }
}

/// An error diagnostic for a value that could not be decoded or encoded, pointing at the
/// offending attribute when the error is inside the value.
pub fn codec_error(summary: &str, error: &CodecError) -> Diagnostics {
    let detail = format!("{error}. This is a bug in the provider or in Terraform; please report it.");
    match error.path() {
        Some(path) => Diagnostics::error_at(path.clone(), summary, detail),
        None => Diagnostics::error(summary, detail),
    }
}

pub fn client_capabilities(caps: Option<&pb::ClientCapabilities>) -> ClientCapabilities {
    caps.map(|c| ClientCapabilities {
        deferral_allowed: c.deferral_allowed,
        write_only_attributes_allowed: c.write_only_attributes_allowed,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Schema {
        Schema::new(
            2,
            Block::new("A thing.")
                .attribute(Attribute::required("name", Type::String, "Its name."))
                .attribute(Attribute::computed("id", Type::String, ""))
                .attribute(Attribute::optional("token_wo", Type::String, "").sensitive().write_only())
                .attribute(Attribute::optional("old", Type::map(Type::String), "").deprecated())
                .block(NestedBlock::at_most_one(
                    "hub",
                    Block::new("").attribute(Attribute::optional("host", Type::String, "")),
                )),
        )
    }

    #[test]
    fn schema_converts_every_flag() {
        let pb = schema(&sample());
        assert_eq!(pb.version, 2);
        let block = pb.block.unwrap();
        assert_eq!(block.description, "A thing.");
        assert_eq!(block.description_kind, pb::StringKind::Plain as i32);
        let by_name = |n: &str| block.attributes.iter().find(|a| a.name == n).unwrap().clone();
        let name = by_name("name");
        assert_eq!(name.r#type, b"\"string\"");
        assert!(name.required && !name.optional && !name.computed);
        assert!(name.nested_type.is_none());
        let token = by_name("token_wo");
        assert!(token.sensitive && token.write_only && token.optional);
        let old = by_name("old");
        assert!(old.deprecated);
        assert_eq!(old.r#type, br#"["map","string"]"#);
        assert!(by_name("id").computed);

        let hub = &block.block_types[0];
        assert_eq!(hub.type_name, "hub");
        assert_eq!(hub.nesting, pb::schema::nested_block::NestingMode::List as i32);
        assert_eq!((hub.min_items, hub.max_items), (0, 1));
        assert_eq!(hub.block.as_ref().unwrap().attributes[0].name, "host");
    }

    #[test]
    fn no_attribute_sets_both_type_and_nested_type() {
        let pb = schema(&sample());
        let block = pb.block.unwrap();
        for a in block
            .attributes
            .iter()
            .chain(block.block_types.iter().flat_map(|b| b.block.as_ref().unwrap().attributes.iter()))
        {
            assert!(!a.r#type.is_empty() && a.nested_type.is_none(), "{}", a.name);
        }
    }

    #[test]
    fn diagnostics_keep_severity_and_path() {
        let mut d = Diagnostics::error_at(AttributePath::root("hub").index(0).attr("env").key("K"), "bad", "very");
        d.push_warning(None, "careful", "");
        let pb = diagnostics(&d);
        assert_eq!(pb[0].severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!((pb[0].summary.as_str(), pb[0].detail.as_str()), ("bad", "very"));
        use pb::attribute_path::step::Selector;
        let steps: Vec<_> =
            pb[0].attribute.as_ref().unwrap().steps.iter().map(|s| s.selector.clone().unwrap()).collect();
        assert_eq!(
            steps,
            vec![
                Selector::AttributeName("hub".into()),
                Selector::ElementKeyInt(0),
                Selector::AttributeName("env".into()),
                Selector::ElementKeyString("K".into()),
            ]
        );
        assert_eq!(pb[1].severity, pb::diagnostic::Severity::Warning as i32);
        assert!(pb[1].attribute.is_none());
    }

    #[test]
    fn dynamic_values_prefer_msgpack_then_json_then_null() {
        let ty = Type::String;
        let both = pb::DynamicValue { msgpack: vec![0xa1, b'm'], json: b"\"j\"".to_vec() };
        assert_eq!(decode(Some(&both), &ty).unwrap(), Value::from("m"));
        let json_only = pb::DynamicValue { msgpack: vec![], json: b"\"j\"".to_vec() };
        assert_eq!(decode(Some(&json_only), &ty).unwrap(), Value::from("j"));
        assert_eq!(decode(None, &ty).unwrap(), Value::Null);
        assert_eq!(encode(&Value::from("m"), &ty).unwrap().msgpack, vec![0xa1, b'm']);
    }

    #[test]
    fn codec_errors_point_at_the_attribute() {
        let err = CodecError::Truncated { path: AttributePath::root("a") };
        let d = codec_error("Invalid value", &err);
        assert_eq!(d.0[0].attribute, Some(AttributePath::root("a")));
    }
}
