//! Schemas of the provider, its resources and data sources, built with a small builder and
//! turned into tfplugin6 messages by the server.

use std::collections::BTreeMap;

use super::value::Type;

/// A resource, data source or provider schema: a version and its top-level block.
#[derive(Clone, Debug)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Self {
        Schema { version, block }
    }
}

/// A block: attributes and nested blocks.
#[derive(Clone, Debug, Default)]
pub struct Block {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub deprecated: bool,
}

impl Block {
    pub fn new(description: impl Into<String>) -> Self {
        Block { description: description.into(), ..Block::default() }
    }

    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    pub fn block(mut self, block: NestedBlock) -> Self {
        self.blocks.push(block);
        self
    }

    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn find_block(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.type_name == name)
    }

    /// The object type of values of this block: what decodes config, plan and state.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> =
            self.attributes.iter().map(|a| (a.name.clone(), a.ty.clone())).collect();
        for b in &self.blocks {
            let inner = b.block.value_type();
            let ty = match b.nesting {
                Nesting::Single | Nesting::Group => inner,
                Nesting::List => Type::list(inner),
                Nesting::Set => Type::set(inner),
                Nesting::Map => Type::map(inner),
            };
            attrs.insert(b.type_name.clone(), ty);
        }
        Type::Object(attrs)
    }
}

/// An attribute and its behaviour flags.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    /// Never stored in plan or state; only ever seen in configuration (Terraform ≥ 1.11).
    pub write_only: bool,
    pub deprecated: bool,
}

impl Attribute {
    fn new(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            name: name.to_string(),
            ty,
            description: description.to_string(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
        }
    }

    pub fn required(name: &str, ty: Type, description: &str) -> Self {
        Attribute { required: true, ..Self::new(name, ty, description) }
    }

    pub fn optional(name: &str, ty: Type, description: &str) -> Self {
        Attribute { optional: true, ..Self::new(name, ty, description) }
    }

    /// Set by the provider only.
    pub fn computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute { computed: true, ..Self::new(name, ty, description) }
    }

    /// Set by the user, or by the provider when the user leaves it out.
    pub fn optional_computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute { optional: true, computed: true, ..Self::new(name, ty, description) }
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
}

/// How a nested block repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    Group,
    List,
    Set,
    Map,
}

/// A nested block type.
#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    /// A block that may appear at most once (`max_items = 1` list, the form every Terraform
    /// version renders well in plans).
    pub fn at_most_one(type_name: &str, block: Block) -> Self {
        NestedBlock { type_name: type_name.to_string(), block, nesting: Nesting::List, min_items: 0, max_items: 1 }
    }

    /// A block that may repeat, in order.
    pub fn list(type_name: &str, block: Block) -> Self {
        NestedBlock { type_name: type_name.to_string(), block, nesting: Nesting::List, min_items: 0, max_items: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_nests_blocks_by_their_nesting_mode() {
        let block = Block::new("").attribute(Attribute::required("name", Type::String, "")).block(
            NestedBlock::at_most_one("hub", Block::new("").attribute(Attribute::optional("host", Type::String, ""))),
        );
        let Type::Object(attrs) = block.value_type() else { panic!("not an object") };
        assert_eq!(attrs["name"], Type::String);
        assert_eq!(attrs["hub"], Type::list(Type::Object([("host".to_string(), Type::String)].into())));
    }
}
