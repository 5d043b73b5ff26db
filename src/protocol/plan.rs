//! Schema-driven planning steps every resource shares.

use super::schema::{Block, Nesting};
use super::value::Value;

/// Marks computed attributes that the proposal leaves null as unknown ("known after apply"),
/// descending into nested blocks. Terraform proposes prior values for computed attributes the
/// configuration leaves out, so on update this touches only attributes that never had a value.
pub fn mark_unset_computed_unknown(block: &Block, proposed: &mut Value) {
    let Value::Map(attrs) = proposed else { return };
    for attribute in block.attributes.iter().filter(|a| a.computed && !a.write_only) {
        let slot = attrs.entry(attribute.name.clone()).or_default();
        if slot.is_null() {
            *slot = Value::Unknown;
        }
    }
    for nested in &block.blocks {
        let Some(value) = attrs.get_mut(&nested.type_name) else { continue };
        match (nested.nesting, value) {
            (Nesting::Single | Nesting::Group, v) => mark_unset_computed_unknown(&nested.block, v),
            (_, Value::List(items)) => items.iter_mut().for_each(|v| mark_unset_computed_unknown(&nested.block, v)),
            (_, Value::Map(items)) => items.values_mut().for_each(|v| mark_unset_computed_unknown(&nested.block, v)),
            _ => {}
        }
    }
}

/// Sets every write-only attribute to null, descending into nested blocks: Terraform requires
/// write-only values to be absent from planned and new state.
pub fn null_write_only(block: &Block, value: &mut Value) {
    let Value::Map(attrs) = value else { return };
    for attribute in block.attributes.iter().filter(|a| a.write_only) {
        if let Some(slot) = attrs.get_mut(&attribute.name) {
            *slot = Value::Null;
        }
    }
    for nested in &block.blocks {
        match attrs.get_mut(&nested.type_name) {
            Some(Value::List(items)) => items.iter_mut().for_each(|v| null_write_only(&nested.block, v)),
            Some(Value::Map(items)) if nested.nesting == Nesting::Map => {
                items.values_mut().for_each(|v| null_write_only(&nested.block, v))
            }
            Some(v) => null_write_only(&nested.block, v),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::{Attribute, NestedBlock};
    use crate::protocol::value::Type;

    fn block() -> Block {
        Block::new("")
            .attribute(Attribute::required("name", Type::String, ""))
            .attribute(Attribute::computed("id", Type::String, ""))
            .attribute(Attribute::optional("token_wo", Type::String, "").write_only())
            .block(NestedBlock::at_most_one(
                "inner",
                Block::new("").attribute(Attribute::optional_computed("x", Type::String, "")),
            ))
    }

    #[test]
    fn unset_computed_become_unknown_and_set_ones_stay() {
        let mut v = Value::object([
            ("name", Value::from("a")),
            ("id", Value::Null),
            ("inner", Value::List(vec![Value::object([("x", Value::Null)])])),
        ]);
        mark_unset_computed_unknown(&block(), &mut v);
        assert!(v.get("id").is_unknown());
        assert!(v.get("inner").single_block().unwrap().get("x").is_unknown());
        assert_eq!(v.get("name").as_str(), Some("a"));

        let mut kept = Value::object([("name", Value::from("a")), ("id", Value::from("ns/a"))]);
        mark_unset_computed_unknown(&block(), &mut kept);
        assert_eq!(kept.get("id").as_str(), Some("ns/a"));
    }

    #[test]
    fn write_only_values_are_dropped() {
        let mut v = Value::object([("name", Value::from("a")), ("token_wo", Value::from("secret"))]);
        null_write_only(&block(), &mut v);
        assert!(v.get("token_wo").is_null());
    }
}
