//! Terraform's value model (cty): types and values, independent of any wire encoding.
//!
//! Resources work with [`Value`] trees; the codecs in `msgpack.rs` and `json.rs` turn them into
//! bytes using the [`Type`] from the schema, because cty's encodings do not carry enough type
//! information to decode without it (a msgpack array may be a list, a set or a tuple).

use std::collections::BTreeMap;
use std::fmt;

/// A cty type, as Terraform writes it in schema JSON (`"string"`, `["list","string"]`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// `DynamicPseudoType`: the concrete type travels with the value.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// The type in Terraform's JSON type notation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let attrs: serde_json::Map<String, serde_json::Value> =
                    attrs.iter().map(|(k, t)| (k.clone(), t.to_json())).collect();
                json!(["object", attrs])
            }
            Type::Tuple(elems) => {
                json!(["tuple", elems.iter().map(Type::to_json).collect::<Vec<_>>()])
            }
        }
    }

    /// Parses Terraform's JSON type notation. Optional-attribute markers (the third element of an
    /// object type) are accepted and ignored: they only matter to Terraform's own conversions.
    pub fn from_json(json: &serde_json::Value) -> Result<Type, TypeError> {
        use serde_json::Value as J;
        let bad = || TypeError(json.to_string());
        match json {
            J::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(bad()),
            },
            J::Array(parts) => {
                let kind = parts.first().and_then(J::as_str).ok_or_else(bad)?;
                let arg = parts.get(1).ok_or_else(bad)?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(arg)?)),
                    "set" => Ok(Type::set(Type::from_json(arg)?)),
                    "map" => Ok(Type::map(Type::from_json(arg)?)),
                    "object" => {
                        let attrs = arg.as_object().ok_or_else(bad)?;
                        let attrs = attrs.iter().map(|(k, v)| Ok((k.clone(), Type::from_json(v)?))).collect::<Result<
                            _,
                            TypeError,
                        >>(
                        )?;
                        Ok(Type::Object(attrs))
                    }
                    "tuple" => {
                        let elems = arg.as_array().ok_or_else(bad)?;
                        Ok(Type::Tuple(elems.iter().map(Type::from_json).collect::<Result<_, _>>()?))
                    }
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }
}

/// A type expression that is not one of cty's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a Terraform type: {0}")]
pub struct TypeError(pub String);

/// A Terraform number. cty numbers are arbitrary-precision decimals; the wire carries them as
/// int64, float64 or, when neither is exact, a decimal string, and we keep whichever arrived.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
    Decimal(String),
}

impl Number {
    /// The value as an integer, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Number::Float(_) => None,
            Number::Decimal(s) => s.parse().ok(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Decimal(s) => f.write_str(s),
        }
    }
}

/// A cty value. Collections are kept in the shape their type gives them: lists, sets and tuples
/// as [`Value::List`]; maps and objects as [`Value::Map`].
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// Not known until apply.
    Unknown,
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// A value in a `dynamic` position, with the concrete type it travels with.
    Dynamic(Type, Box<Value>),
}

static NULL: Value = Value::Null;

impl Value {
    /// Builds an object (or map) value from pairs.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A list of strings.
    pub fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) => items.iter().all(Value::is_fully_known),
            Value::Map(attrs) => attrs.values().all(Value::is_fully_known),
            Value::Dynamic(_, v) => v.is_fully_known(),
            _ => true,
        }
    }

    /// An attribute of an object (or an element of a map); null when absent or when `self` is
    /// not an object, so that optional attributes read naturally.
    pub fn get(&self, name: &str) -> &Value {
        match self {
            Value::Map(attrs) => attrs.get(name).unwrap_or(&NULL),
            Value::Dynamic(_, v) => v.get(name),
            _ => &NULL,
        }
    }

    /// Mutable access to an attribute of an object, inserting null when absent.
    /// Does nothing useful on non-objects: it returns a detached null.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Map(attrs) => Some(attrs.entry(name.to_string()).or_default()),
            _ => None,
        }
    }

    /// Sets an attribute on an object value; ignored on anything else.
    pub fn set(&mut self, name: &str, value: Value) {
        if let Value::Map(attrs) = self {
            attrs.insert(name.to_string(), value);
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(attrs) => Some(attrs),
            _ => None,
        }
    }

    /// The first element of a single-item block list (`max_items = 1` blocks), if present.
    pub fn single_block(&self) -> Option<&Value> {
        self.as_list().and_then(|items| items.first())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_json_round_trips() {
        let cases = [
            json!("string"),
            json!(["list", "number"]),
            json!(["set", ["map", "bool"]]),
            json!(["object", {"a": "string", "b": ["tuple", ["number", "dynamic"]]}]),
        ];
        for case in cases {
            let ty = Type::from_json(&case).unwrap();
            assert_eq!(ty.to_json(), case);
        }
    }

    #[test]
    fn type_json_rejects_nonsense() {
        for bad in [json!("str"), json!(["list"]), json!(["object", "x"]), json!(3)] {
            assert!(Type::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_type_with_optional_markers_parses() {
        let ty = Type::from_json(&json!(["object", {"a": "string"}, ["a"]])).unwrap();
        assert_eq!(ty, Type::Object([("a".to_string(), Type::String)].into()));
    }

    #[test]
    fn get_on_missing_attribute_is_null() {
        let v = Value::object([("a", Value::from("x"))]);
        assert_eq!(v.get("a").as_str(), Some("x"));
        assert!(v.get("b").is_null());
        assert!(Value::Null.get("a").is_null());
    }

    #[test]
    fn fully_known_looks_inside_collections() {
        let v = Value::object([("a", Value::List(vec![Value::from(1), Value::Unknown]))]);
        assert!(!v.is_fully_known());
        assert!(v.get("a").as_list().unwrap()[0].is_fully_known());
    }

    #[test]
    fn numbers_convert_to_integers_only_when_whole() {
        assert_eq!(Number::Float(3.0).as_i64(), Some(3));
        assert_eq!(Number::Float(3.5).as_i64(), None);
        assert_eq!(Number::Decimal("12345678901234567890".into()).as_i64(), None);
        assert_eq!(Number::Decimal("42".into()).as_i64(), Some(42));
    }
}
