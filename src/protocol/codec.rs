//! What the msgpack and JSON value codecs share: their error type and the type inference used
//! when a value sits in a `dynamic` position without a type of its own.

use super::diagnostics::AttributePath;
use super::value::{Number, Type, TypeError, Value};

/// Why a value could not be decoded from, or encoded to, its wire form. Every variant names
/// the path of the offending value so that the diagnostic can point at it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CodecError {
    #[error("{}: expected {expected}, found {found}", show(.path))]
    Mismatch { path: AttributePath, expected: String, found: String },
    #[error("{}: the data ends in the middle of a value", show(.path))]
    Truncated { path: AttributePath },
    #[error("{}: text is not valid UTF-8", show(.path))]
    InvalidUtf8 { path: AttributePath },
    #[error("{}: the type of a dynamic value is invalid: {source}", show(.path))]
    DynamicType { path: AttributePath, source: TypeError },
    #[error("{}: an unknown value cannot be written as JSON", show(.path))]
    UnknownInJson { path: AttributePath },
    #[error("{}: values are nested too deeply", show(.path))]
    TooDeep { path: AttributePath },
    #[error("{count} unexpected bytes after the value")]
    TrailingBytes { count: usize },
    #[error("invalid JSON: {0}")]
    Json(String),
}

impl CodecError {
    /// The attribute the error is about, when it is inside the value.
    pub fn path(&self) -> Option<&AttributePath> {
        match self {
            CodecError::Mismatch { path, .. }
            | CodecError::Truncated { path }
            | CodecError::InvalidUtf8 { path }
            | CodecError::DynamicType { path, .. }
            | CodecError::UnknownInJson { path }
            | CodecError::TooDeep { path } => Some(path).filter(|p| !p.0.is_empty()),
            CodecError::TrailingBytes { .. } | CodecError::Json(_) => None,
        }
    }

    pub(crate) fn mismatch(path: &AttributePath, expected: &Type, found: impl Into<String>) -> Self {
        CodecError::Mismatch { path: path.clone(), expected: type_name(expected), found: found.into() }
    }
}

fn show(path: &AttributePath) -> String {
    if path.0.is_empty() { "at the root".to_string() } else { format!("at {path}") }
}

/// A short human name of a type for error messages.
pub fn type_name(ty: &Type) -> String {
    ty.to_json().to_string()
}

/// A short human name of the kind of a value for error messages (never the value itself:
/// it may be a secret).
pub fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Unknown => "an unknown value",
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Map(_) => "a map or object",
        Value::Dynamic(..) => "a dynamic value",
    }
}

/// The type a value would have in cty when nothing else says: used to encode a value placed in
/// a `dynamic` position without [`Value::Dynamic`]. Lists become tuples and maps objects, the
/// types cty infers for literals.
pub fn infer_type(value: &Value) -> Type {
    match value {
        Value::Unknown | Value::Null => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::Tuple(items.iter().map(infer_type).collect()),
        Value::Map(attrs) => Type::Object(attrs.iter().map(|(k, v)| (k.clone(), infer_type(v))).collect()),
        Value::Dynamic(ty, _) => ty.clone(),
    }
}

/// Parses a number written as decimal text (cty's form for numbers that fit neither int64 nor
/// float64 exactly). Integers that fit become [`Number::Int`]; other decimals in JSON's number
/// syntax are kept as text so no precision is lost. Spellings JSON cannot carry as they are
/// (`.5`, `+1`, `1.`) are read as float64, so that every value read can be written again.
pub fn parse_number_text(text: &str) -> Option<Number> {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Some(Number::Int(i));
    }
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if !plain {
        return None;
    }
    if serde_json::from_str::<serde_json::Number>(text).is_ok() {
        return Some(Number::Decimal(text.to_string()));
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite()).map(Number::Float)
}

/// Deepest nesting of values the decoders follow when skipping data they do not need.
pub(crate) const MAX_DEPTH: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_path() {
        let e = CodecError::mismatch(&AttributePath::root("hub").index(0), &Type::String, "a bool");
        assert_eq!(e.to_string(), "at hub[0]: expected \"string\", found a bool");
        let root = CodecError::Truncated { path: AttributePath::default() };
        assert_eq!(root.to_string(), "at the root: the data ends in the middle of a value");
        assert_eq!(root.path(), None);
    }

    #[test]
    fn number_text_parses_plain_decimals_only() {
        assert_eq!(parse_number_text("42"), Some(Number::Int(42)));
        assert_eq!(parse_number_text("-7"), Some(Number::Int(-7)));
        let big = "123456789012345678901234567890";
        assert_eq!(parse_number_text(big), Some(Number::Decimal(big.to_string())));
        assert_eq!(parse_number_text("1.5e3"), Some(Number::Decimal("1.5e3".to_string())));
        for bad in ["", "inf", "NaN", "1,5", "abc", "-", "1e400"] {
            assert_eq!(parse_number_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn inference_gives_literal_types() {
        let v = Value::object([("a", Value::List(vec![Value::Bool(true), Value::Number(Number::Int(1))]))]);
        assert_eq!(
            infer_type(&v),
            Type::Object([("a".to_string(), Type::Tuple(vec![Type::Bool, Type::Number]))].into())
        );
    }
}
