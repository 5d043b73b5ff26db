//! cty's msgpack encoding, the form Terraform uses for every value on the wire.
//!
//! The encoding does not carry types (an array may be a list, a set or a tuple), so both
//! directions are driven by the schema's [`Type`]. Unknown values are msgpack extensions; null is
//! nil; values in `dynamic` positions travel as `[type as JSON bytes, value]`.

use std::collections::BTreeMap;

use super::codec::{CodecError, MAX_DEPTH, infer_type, parse_number_text, type_name, value_kind};
use super::diagnostics::{AttributePath, PathStep};
use super::value::{Number, Type, Value};

/// The bytes cty writes for an unknown value: a one-byte extension of type 0.
pub const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];

/// Decodes one value of type `ty`; the whole input must be that value.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut reader = Reader { data: bytes, pos: 0 };
    let mut path = AttributePath::default();
    let value = reader.value(ty, &mut path)?;
    match bytes.len() - reader.pos {
        0 => Ok(value),
        count => Err(CodecError::TrailingBytes { count }),
    }
}

/// Encodes a value as type `ty`. Object attributes the value lacks are written as null, and
/// attributes the type does not have are left out.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut writer = Writer { out: Vec::with_capacity(64) };
    writer.value(value, ty, &mut AttributePath::default())?;
    Ok(writer.out)
}

/// One msgpack item header; strings, binaries and extensions carry their payload.
enum Head<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    /// Any extension: cty uses them only for unknown values (type 0, or 12 for refined ones).
    Ext,
}

impl Head<'_> {
    fn describe(&self) -> String {
        match self {
            Head::Nil => "nil".into(),
            Head::Bool(_) => "a bool".into(),
            Head::Int(_) | Head::Uint(_) => "an integer".into(),
            Head::Float(_) => "a float".into(),
            Head::Str(_) => "a string".into(),
            Head::Bin(_) => "binary data".into(),
            Head::Array(n) => format!("an array of {n}"),
            Head::Map(n) => format!("a map of {n}"),
            Head::Ext => "an extension".into(),
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, path: &AttributePath) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.data.len());
        let end = end.ok_or_else(|| CodecError::Truncated { path: path.clone() })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, path: &AttributePath) -> Result<[u8; N], CodecError> {
        let bytes = self.take(N, path)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn len(&mut self, width: usize, path: &AttributePath) -> Result<usize, CodecError> {
        Ok(match width {
            1 => self.array::<1>(path)?[0] as usize,
            2 => u16::from_be_bytes(self.array(path)?) as usize,
            _ => u32::from_be_bytes(self.array(path)?) as usize,
        })
    }

    fn head(&mut self, path: &AttributePath) -> Result<Head<'a>, CodecError> {
        let [marker] = self.array::<1>(path)?;
        Ok(match marker {
            0x00..=0x7f => Head::Int(i64::from(marker)),
            0x80..=0x8f => Head::Map(usize::from(marker & 0x0f)),
            0x90..=0x9f => Head::Array(usize::from(marker & 0x0f)),
            0xa0..=0xbf => Head::Str(self.take(usize::from(marker & 0x1f), path)?),
            0xc0 => Head::Nil,
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (marker - 0xc4), path)?;
                Head::Bin(self.take(n, path)?)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (marker - 0xc7), path)?;
                self.take(n + 1, path)?;
                Head::Ext
            }
            0xca => Head::Float(f64::from(f32::from_be_bytes(self.array(path)?))),
            0xcb => Head::Float(f64::from_be_bytes(self.array(path)?)),
            0xcc => Head::Int(i64::from(self.array::<1>(path)?[0])),
            0xcd => Head::Int(i64::from(u16::from_be_bytes(self.array(path)?))),
            0xce => Head::Int(i64::from(u32::from_be_bytes(self.array(path)?))),
            0xcf => Head::Uint(u64::from_be_bytes(self.array(path)?)),
            0xd0 => Head::Int(i64::from(i8::from_be_bytes(self.array(path)?))),
            0xd1 => Head::Int(i64::from(i16::from_be_bytes(self.array(path)?))),
            0xd2 => Head::Int(i64::from(i32::from_be_bytes(self.array(path)?))),
            0xd3 => Head::Int(i64::from_be_bytes(self.array(path)?)),
            0xd4..=0xd8 => {
                self.take(1 + (1 << (marker - 0xd4)), path)?;
                Head::Ext
            }
            0xd9..=0xdb => {
                let n = self.len(1 << (marker - 0xd9), path)?;
                Head::Str(self.take(n, path)?)
            }
            0xdc | 0xdd => Head::Array(self.len(if marker == 0xdc { 2 } else { 4 }, path)?),
            0xde | 0xdf => Head::Map(self.len(if marker == 0xde { 2 } else { 4 }, path)?),
            0xe0..=0xff => Head::Int(i64::from(marker as i8)),
            0xc1 => {
                return Err(CodecError::Mismatch {
                    path: path.clone(),
                    expected: "a msgpack value".into(),
                    found: "the reserved byte 0xc1".into(),
                });
            }
        })
    }

    /// Skips one complete value (an object attribute the schema does not know).
    fn skip(&mut self, path: &AttributePath, depth: usize) -> Result<(), CodecError> {
        if depth > MAX_DEPTH {
            return Err(CodecError::TooDeep { path: path.clone() });
        }
        let items = match self.head(path)? {
            Head::Array(n) => n,
            Head::Map(n) => n.saturating_mul(2),
            _ => 0,
        };
        for _ in 0..items {
            self.skip(path, depth + 1)?;
        }
        Ok(())
    }

    fn text(&self, bytes: &[u8], path: &AttributePath) -> Result<String, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| CodecError::InvalidUtf8 { path: path.clone() })
    }

    fn value(&mut self, ty: &Type, path: &mut AttributePath) -> Result<Value, CodecError> {
        let head = self.head(path)?;
        let value = match (ty, head) {
            (_, Head::Nil) => Value::Null,
            (_, Head::Ext) => Value::Unknown,
            (Type::Bool, Head::Bool(b)) => Value::Bool(b),
            (Type::Number, Head::Int(i)) => Value::Number(Number::Int(i)),
            (Type::Number, Head::Uint(u)) => Value::Number(match i64::try_from(u) {
                Ok(i) => Number::Int(i),
                Err(_) => Number::Decimal(u.to_string()),
            }),
            (Type::Number, Head::Float(f)) => Value::Number(Number::Float(f)),
            (Type::Number, Head::Str(bytes)) => {
                let text = self.text(bytes, path)?;
                let number = parse_number_text(&text)
                    .ok_or_else(|| CodecError::mismatch(path, ty, "a string that is not a number"))?;
                Value::Number(number)
            }
            (Type::String, Head::Str(bytes) | Head::Bin(bytes)) => Value::String(self.text(bytes, path)?),
            (Type::List(element) | Type::Set(element), Head::Array(n)) => {
                let mut items = Vec::with_capacity(n.min(self.data.len() - self.pos));
                for i in 0..n {
                    path.0.push(PathStep::Index(i as i64));
                    items.push(self.value(element, path)?);
                    path.0.pop();
                }
                Value::List(items)
            }
            (Type::Tuple(elements), Head::Array(n)) if n == elements.len() => {
                let mut items = Vec::with_capacity(n);
                for (i, element) in elements.iter().enumerate() {
                    path.0.push(PathStep::Index(i as i64));
                    items.push(self.value(element, path)?);
                    path.0.pop();
                }
                Value::List(items)
            }
            (Type::Map(element), Head::Map(n)) => {
                let mut entries = BTreeMap::new();
                for _ in 0..n {
                    let key = self.key(path)?;
                    path.0.push(PathStep::Key(key));
                    let item = self.value(element, path)?;
                    if let Some(PathStep::Key(key)) = path.0.pop() {
                        entries.insert(key, item);
                    }
                }
                Value::Map(entries)
            }
            (Type::Object(attributes), Head::Map(n)) => {
                let mut object = BTreeMap::new();
                for _ in 0..n {
                    let key = self.key(path)?;
                    let attribute_type = attributes.get(&key);
                    path.0.push(PathStep::Attribute(key));
                    let item = match attribute_type {
                        Some(attribute_type) => Some(self.value(attribute_type, path)?),
                        // Terraform only sends schema attributes; tolerate extras anyway.
                        None => self.skip(path, 0).map(|()| None)?,
                    };
                    if let (Some(PathStep::Attribute(key)), Some(item)) = (path.0.pop(), item) {
                        object.insert(key, item);
                    }
                }
                for name in attributes.keys() {
                    object.entry(name.clone()).or_insert(Value::Null);
                }
                Value::Map(object)
            }
            (Type::Dynamic, Head::Array(2)) => {
                let type_json = match self.head(path)? {
                    Head::Str(bytes) | Head::Bin(bytes) => bytes,
                    other => return Err(CodecError::mismatch(path, ty, other.describe())),
                };
                let concrete = serde_json::from_slice(type_json)
                    .map_err(|e| CodecError::Json(e.to_string()))
                    .and_then(|json| {
                        Type::from_json(&json).map_err(|source| CodecError::DynamicType { path: path.clone(), source })
                    })?;
                let inner = self.value(&concrete, path)?;
                Value::Dynamic(concrete, Box::new(inner))
            }
            (ty, head) => return Err(CodecError::mismatch(path, ty, head.describe())),
        };
        Ok(value)
    }

    fn key(&mut self, path: &AttributePath) -> Result<String, CodecError> {
        match self.head(path)? {
            Head::Str(bytes) => self.text(bytes, path),
            other => Err(CodecError::Mismatch {
                path: path.clone(),
                expected: "a string key".into(),
                found: other.describe(),
            }),
        }
    }
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn value(&mut self, value: &Value, ty: &Type, path: &mut AttributePath) -> Result<(), CodecError> {
        match (value, ty) {
            (Value::Unknown, _) => self.out.extend_from_slice(&UNKNOWN),
            (Value::Null, _) => self.out.push(0xc0),
            (Value::Dynamic(concrete, inner), Type::Dynamic) => self.dynamic(inner, concrete, path)?,
            (Value::Dynamic(_, inner), _) => self.value(inner, ty, path)?,
            (_, Type::Dynamic) => self.dynamic(value, &infer_type(value), path)?,
            (Value::Bool(b), Type::Bool) => self.out.push(if *b { 0xc3 } else { 0xc2 }),
            (Value::Number(n), Type::Number) => self.number(n),
            (Value::String(s), Type::String) => self.str(s),
            (Value::List(items), Type::List(element) | Type::Set(element)) => {
                self.header(items.len(), [0x90, 0xdc, 0xdd]);
                for (i, item) in items.iter().enumerate() {
                    path.0.push(PathStep::Index(i as i64));
                    self.value(item, element, path)?;
                    path.0.pop();
                }
            }
            (Value::List(items), Type::Tuple(elements)) if items.len() == elements.len() => {
                self.header(items.len(), [0x90, 0xdc, 0xdd]);
                for (i, (item, element)) in items.iter().zip(elements).enumerate() {
                    path.0.push(PathStep::Index(i as i64));
                    self.value(item, element, path)?;
                    path.0.pop();
                }
            }
            (Value::Map(entries), Type::Map(element)) => {
                self.header(entries.len(), [0x80, 0xde, 0xdf]);
                for (key, item) in entries {
                    self.str(key);
                    path.0.push(PathStep::Key(key.clone()));
                    self.value(item, element, path)?;
                    path.0.pop();
                }
            }
            (Value::Map(entries), Type::Object(attributes)) => {
                self.header(attributes.len(), [0x80, 0xde, 0xdf]);
                for (name, attribute_type) in attributes {
                    self.str(name);
                    path.0.push(PathStep::Attribute(name.clone()));
                    self.value(entries.get(name).unwrap_or(&Value::Null), attribute_type, path)?;
                    path.0.pop();
                }
            }
            (value, ty) => {
                return Err(CodecError::Mismatch {
                    path: path.clone(),
                    expected: type_name(ty),
                    found: value_kind(value).into(),
                });
            }
        }
        Ok(())
    }

    fn dynamic(&mut self, value: &Value, concrete: &Type, path: &mut AttributePath) -> Result<(), CodecError> {
        if matches!(value, Value::Null | Value::Unknown) && *concrete == Type::Dynamic {
            return self.value(value, concrete, path);
        }
        self.out.push(0x92);
        self.bin(concrete.to_json().to_string().as_bytes());
        self.value(value, concrete, path)
    }

    /// Writes a length header: the fix form (marker | n) below 16, else the 16- or 32-bit form.
    fn header(&mut self, n: usize, [fix, m16, m32]: [u8; 3]) {
        if n < 16 {
            self.out.push(fix | n as u8);
        } else if let Ok(n) = u16::try_from(n) {
            self.out.push(m16);
            self.out.extend_from_slice(&n.to_be_bytes());
        } else {
            self.out.push(m32);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }

    fn str(&mut self, s: &str) {
        let n = s.len();
        if n < 32 {
            self.out.push(0xa0 | n as u8);
        } else if let Ok(n) = u8::try_from(n) {
            self.out.extend_from_slice(&[0xd9, n]);
        } else if let Ok(n) = u16::try_from(n) {
            self.out.push(0xda);
            self.out.extend_from_slice(&n.to_be_bytes());
        } else {
            self.out.push(0xdb);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        self.out.extend_from_slice(s.as_bytes());
    }

    fn bin(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        if let Ok(n) = u8::try_from(n) {
            self.out.extend_from_slice(&[0xc4, n]);
        } else if let Ok(n) = u16::try_from(n) {
            self.out.push(0xc5);
            self.out.extend_from_slice(&n.to_be_bytes());
        } else {
            self.out.push(0xc6);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        self.out.extend_from_slice(bytes);
    }

    /// Integers in their shortest form, as cty's encoder writes them.
    fn int(&mut self, i: i64) {
        if i >= 0 {
            self.uint(i as u64);
        } else if i >= -32 {
            self.out.push(i as i8 as u8);
        } else if let Ok(i) = i8::try_from(i) {
            self.out.extend_from_slice(&[0xd0, i as u8]);
        } else if let Ok(i) = i16::try_from(i) {
            self.out.push(0xd1);
            self.out.extend_from_slice(&i.to_be_bytes());
        } else if let Ok(i) = i32::try_from(i) {
            self.out.push(0xd2);
            self.out.extend_from_slice(&i.to_be_bytes());
        } else {
            self.out.push(0xd3);
            self.out.extend_from_slice(&i.to_be_bytes());
        }
    }

    fn uint(&mut self, u: u64) {
        if u < 0x80 {
            self.out.push(u as u8);
        } else if let Ok(u) = u8::try_from(u) {
            self.out.extend_from_slice(&[0xcc, u]);
        } else if let Ok(u) = u16::try_from(u) {
            self.out.push(0xcd);
            self.out.extend_from_slice(&u.to_be_bytes());
        } else if let Ok(u) = u32::try_from(u) {
            self.out.push(0xce);
            self.out.extend_from_slice(&u.to_be_bytes());
        } else {
            self.out.push(0xcf);
            self.out.extend_from_slice(&u.to_be_bytes());
        }
    }

    fn float(&mut self, f: f64) {
        self.out.push(0xcb);
        self.out.extend_from_slice(&f.to_be_bytes());
    }

    /// Integers as msgpack integers, other numbers as float64 when that is exact, else as text.
    fn number(&mut self, number: &Number) {
        match number {
            Number::Int(i) => self.int(*i),
            Number::Float(f) if f.fract() == 0.0 && (-9.2e18..9.2e18).contains(f) => self.int(*f as i64),
            Number::Float(f) => self.float(*f),
            Number::Decimal(text) => {
                if let Ok(i) = text.parse::<i64>() {
                    self.int(i);
                } else if let Ok(u) = text.parse::<u64>() {
                    self.uint(u);
                } else if let Some(f) = exact_float(text) {
                    self.float(f);
                } else {
                    self.str(text);
                }
            }
        }
    }
}

/// The float64 equal to a decimal text, when there is one: its shortest form must read the same
/// digits back.
fn exact_float(text: &str) -> Option<f64> {
    let f = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
    (canonical_decimal(&f.to_string()) == canonical_decimal(text)).then_some(f)
}

/// A decimal without a leading plus, trailing fraction zeros or a bare trailing point.
fn canonical_decimal(text: &str) -> String {
    let text = text.trim().trim_start_matches('+');
    if !text.contains('.') || text.contains(['e', 'E']) {
        return text.to_string();
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Type)]) -> Type {
        Type::Object(pairs.iter().map(|(k, t)| (k.to_string(), t.clone())).collect())
    }

    fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    /// Byte forms cty itself produces, checked in both directions.
    #[test]
    fn well_known_encodings() {
        let cases: Vec<(Value, Type, Vec<u8>)> = vec![
            (Value::Null, Type::String, vec![0xc0]),
            (Value::Unknown, Type::String, vec![0xd4, 0x00, 0x00]),
            (Value::Bool(true), Type::Bool, vec![0xc3]),
            (Value::Bool(false), Type::Bool, vec![0xc2]),
            (int(0), Type::Number, vec![0x00]),
            (int(127), Type::Number, vec![0x7f]),
            (int(128), Type::Number, vec![0xcc, 0x80]),
            (int(300), Type::Number, vec![0xcd, 0x01, 0x2c]),
            (int(70000), Type::Number, vec![0xce, 0x00, 0x01, 0x11, 0x70]),
            (int(1 << 40), Type::Number, vec![0xcf, 0, 0, 0x01, 0, 0, 0, 0, 0]),
            (int(-1), Type::Number, vec![0xff]),
            (int(-32), Type::Number, vec![0xe0]),
            (int(-100), Type::Number, vec![0xd0, 0x9c]),
            (int(-1000), Type::Number, vec![0xd1, 0xfc, 0x18]),
            (int(-100000), Type::Number, vec![0xd2, 0xff, 0xfe, 0x79, 0x60]),
            (int(i64::MIN), Type::Number, vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            (Value::Number(Number::Float(1.5)), Type::Number, vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
            (Value::from("x"), Type::String, vec![0xa1, b'x']),
            (
                Value::List(vec![Value::from("a"), Value::from("b")]),
                Type::list(Type::String),
                vec![0x92, 0xa1, b'a', 0xa1, b'b'],
            ),
            (Value::List(vec![int(1)]), Type::set(Type::Number), vec![0x91, 0x01]),
            (Value::object([("k", Value::from("v"))]), Type::map(Type::String), vec![0x81, 0xa1, b'k', 0xa1, b'v']),
            (
                Value::object([("id", Value::from("x")), ("n", int(1))]),
                obj(&[("id", Type::String), ("n", Type::Number)]),
                vec![0x82, 0xa2, b'i', b'd', 0xa1, b'x', 0xa1, b'n', 0x01],
            ),
            (
                Value::Dynamic(Type::String, Box::new(Value::from("x"))),
                Type::Dynamic,
                [&[0x92, 0xc4, 8][..], b"\"string\"", &[0xa1, b'x']].concat(),
            ),
            (Value::Unknown, Type::Dynamic, vec![0xd4, 0x00, 0x00]),
            (Value::Null, Type::Dynamic, vec![0xc0]),
        ];
        for (value, ty, bytes) in cases {
            assert_eq!(encode(&value, &ty).unwrap(), bytes, "encoding {value:?}");
            assert_eq!(decode(&bytes, &ty).unwrap(), value, "decoding {bytes:02x?}");
        }
    }

    #[test]
    fn round_trips_nested_values() {
        let ty = obj(&[
            ("name", Type::String),
            ("tags", Type::map(Type::String)),
            ("ports", Type::set(Type::Number)),
            ("pair", Type::Tuple(vec![Type::String, Type::Bool])),
            ("blocks", Type::list(obj(&[("x", Type::String), ("y", Type::list(Type::Number))]))),
            ("any", Type::Dynamic),
        ]);
        let long = "s".repeat(300);
        let value = Value::object([
            ("name", Value::from(long.as_str())),
            ("tags", Value::object((0..20).map(|i| (format!("k{i}"), Value::from(format!("v{i}")))))),
            ("ports", Value::List((0..70000).step_by(997).map(int).collect())),
            ("pair", Value::List(vec![Value::from("a"), Value::Unknown])),
            (
                "blocks",
                Value::List(vec![
                    Value::object([
                        ("x", Value::Null),
                        ("y", Value::List(vec![int(-5), Value::Number(Number::Float(0.25))])),
                    ]),
                    Value::object([("x", Value::Unknown), ("y", Value::Null)]),
                ]),
            ),
            (
                "any",
                Value::Dynamic(Type::list(Type::String), Box::new(Value::List(vec![Value::from("p"), Value::Null]))),
            ),
        ]);
        let bytes = encode(&value, &ty).unwrap();
        assert_eq!(decode(&bytes, &ty).unwrap(), value);
    }

    #[test]
    fn missing_attributes_encode_as_null_and_extras_are_dropped() {
        let ty = obj(&[("a", Type::String), ("b", Type::String)]);
        let value = Value::object([("a", Value::from("x")), ("zzz", Value::from("extra"))]);
        let bytes = encode(&value, &ty).unwrap();
        assert_eq!(bytes, vec![0x82, 0xa1, b'a', 0xa1, b'x', 0xa1, b'b', 0xc0]);
    }

    #[test]
    fn decoding_ignores_unknown_attributes_and_fills_missing_ones() {
        let ty = obj(&[("a", Type::String), ("c", Type::Number)]);
        // {"a": "x", "old": [1, {"deep": true}]}
        let bytes = [
            0x82, 0xa1, b'a', 0xa1, b'x', 0xa3, b'o', b'l', b'd', 0x92, 0x01, 0x81, 0xa4, b'd', b'e', b'e', b'p', 0xc3,
        ];
        let value = decode(&bytes, &ty).unwrap();
        assert_eq!(value, Value::object([("a", Value::from("x")), ("c", Value::Null)]));
    }

    #[test]
    fn any_extension_is_unknown() {
        let refined = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3]; // ext8, type 12, a small map
        assert_eq!(decode(&refined, &Type::String).unwrap(), Value::Unknown);
        for bytes in [&[0xd5, 0x00, 0x00, 0x00][..], &[0xd4, 0x0c, 0x00], &[0xc8, 0x00, 0x01, 0x05, 0xff]] {
            assert_eq!(decode(bytes, &Type::list(Type::String)).unwrap(), Value::Unknown);
        }
    }

    #[test]
    fn numbers_in_every_wire_form_decode() {
        let cases: Vec<(Vec<u8>, Number)> = vec![
            (vec![0xca, 0x3f, 0xc0, 0x00, 0x00], Number::Float(1.5)),
            (vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Number::Decimal(u64::MAX.to_string())),
            ([&[0xa3][..], b"1.1"].concat(), Number::Decimal("1.1".into())),
            ([&[0xa2][..], b"12"].concat(), Number::Int(12)),
        ];
        for (bytes, number) in cases {
            assert_eq!(decode(&bytes, &Type::Number).unwrap(), Value::Number(number));
        }
    }

    #[test]
    fn numbers_encode_in_the_narrowest_exact_form() {
        let enc = |n: Number| encode(&Value::Number(n), &Type::Number).unwrap();
        assert_eq!(enc(Number::Float(3.0)), vec![0x03]);
        assert_eq!(enc(Number::Decimal("42".into())), vec![0x2a]);
        assert_eq!(enc(Number::Decimal(u64::MAX.to_string()))[0], 0xcf);
        assert_eq!(enc(Number::Decimal("0.5".into())), vec![0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);
        let precise = "0.1000000000000000000000000001";
        assert_eq!(enc(Number::Decimal(precise.into())), [&[0xbe][..], precise.as_bytes()].concat());
    }

    #[test]
    fn errors_carry_the_path() {
        let ty = obj(&[("list", Type::list(Type::Number))]);
        // {"list": [1, "x"]}
        let bytes = [0x81, 0xa4, b'l', b'i', b's', b't', 0x92, 0x01, 0xa1, b'x'];
        let err = decode(&bytes, &ty).unwrap_err();
        assert_eq!(err.path(), Some(&AttributePath::root("list").index(1)));

        let err = encode(&Value::object([("list", Value::from("no"))]), &ty).unwrap_err();
        assert_eq!(err.path(), Some(&AttributePath::root("list")));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let ty = obj(&[("a", Type::list(Type::String)), ("m", Type::map(Type::Dynamic))]);
        let cases: Vec<&[u8]> = vec![
            &[],
            &[0x81],
            &[0xdf, 0xff, 0xff, 0xff, 0xff],
            &[0x81, 0xa1, b'a', 0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0x81, 0xa1, b'a', 0x91, 0xa3, 0xff, 0xfe],
            &[0xc1],
            &[0x81, 0x01, 0x02],
            &[0x81, 0xa1, b'm', 0x81, 0xa1, b'k', 0x92, 0xa3, b'x', b'y', b'z', 0x01],
            &[0x80, 0x00],
        ];
        for bytes in cases {
            assert!(decode(bytes, &ty).is_err(), "{bytes:02x?}");
        }
        // Deeply nested junk in an ignored attribute.
        let mut deep = vec![0x81, 0xa1, b'z'];
        deep.extend(std::iter::repeat_n(0x91, 10_000));
        deep.push(0xc0);
        assert_eq!(decode(&deep, &ty).unwrap_err(), CodecError::TooDeep { path: AttributePath::root("z") });
    }

    #[test]
    fn dynamic_positions_infer_a_type_for_plain_values() {
        let bytes = encode(&Value::from("x"), &Type::Dynamic).unwrap();
        assert_eq!(decode(&bytes, &Type::Dynamic).unwrap(), Value::Dynamic(Type::String, Box::new(Value::from("x"))));
    }
}
