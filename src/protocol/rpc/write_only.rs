//! Write-only attributes need a Terraform that knows them (1.11+); older clients would store the
//! value in plan and state, so a configuration that sets one is refused.

use crate::protocol::diagnostics::{AttributePath, Diagnostics};
use crate::protocol::schema::{Block, Nesting};
use crate::protocol::value::Value;

/// An error for every write-only attribute the configuration sets.
pub fn refuse_write_only(block: &Block, config: &Value) -> Diagnostics {
    let mut problems = Diagnostics::new();
    visit(block, config, &AttributePath::default(), &mut problems);
    problems
}

fn visit(block: &Block, value: &Value, path: &AttributePath, problems: &mut Diagnostics) {
    let Value::Map(attributes) = value else { return };
    for attribute in block.attributes.iter().filter(|a| a.write_only) {
        if attributes.get(&attribute.name).is_some_and(|v| !v.is_null()) {
            problems.push_error(
                Some(path.clone().attr(&attribute.name)),
                "Write-only attribute not supported by this Terraform",
                format!(
                    "{:?} is write-only, which needs Terraform 1.11 or later. Upgrade Terraform or use \
                     the attribute's regular (stored) variant instead.",
                    attribute.name
                ),
            );
        }
    }
    for nested in &block.blocks {
        let inner_path = path.clone().attr(&nested.type_name);
        match (nested.nesting, attributes.get(&nested.type_name)) {
            (Nesting::List | Nesting::Set, Some(Value::List(items))) => {
                for (i, item) in items.iter().enumerate() {
                    visit(&nested.block, item, &inner_path.clone().index(i), problems);
                }
            }
            (Nesting::Map, Some(Value::Map(items))) => {
                for (key, item) in items {
                    visit(&nested.block, item, &inner_path.clone().key(key), problems);
                }
            }
            (Nesting::Single | Nesting::Group, Some(item)) => visit(&nested.block, item, &inner_path, problems),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::{Attribute, NestedBlock};
    use crate::protocol::value::Type;

    #[test]
    fn set_write_only_attributes_are_refused_with_their_path() {
        let block = Block::new("").attribute(Attribute::optional("token_wo", Type::String, "").write_only()).block(
            NestedBlock::list(
                "auth",
                Block::new("").attribute(Attribute::optional("key_wo", Type::String, "").write_only()),
            ),
        );
        let config = Value::object([
            ("token_wo", Value::Null),
            (
                "auth",
                Value::List(vec![
                    Value::object([("key_wo", Value::Null)]),
                    Value::object([("key_wo", Value::Unknown)]),
                ]),
            ),
        ]);
        let problems = refuse_write_only(&block, &config);
        assert_eq!(problems.0.len(), 1);
        assert_eq!(problems.0[0].attribute, Some(AttributePath::root("auth").index(1).attr("key_wo")));

        let unset = Value::object([("token_wo", Value::Null), ("auth", Value::List(vec![]))]);
        assert!(refuse_write_only(&block, &unset).is_empty());
    }
}
