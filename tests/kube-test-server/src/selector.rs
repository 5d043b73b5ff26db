//! Label and field selectors with the grammar of the real parser:
//! `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`,
//! `k<1`, comma meaning AND.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::status::ApiError;
use crate::validate;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match &self.op {
            Op::Equals(v) => value == Some(v),
            Op::NotEquals(v) => value != Some(v),
            Op::In(vs) => value.is_some_and(|x| vs.contains(x)),
            Op::NotIn(vs) => value.is_none_or(|x| !vs.contains(x)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::GreaterThan(n) => value.and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x > *n),
            Op::LessThan(n) => value.and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x < *n),
        }
    }
}

/// A parsed `labelSelector`; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        let mut lexer = Lexer { chars: text.chars().collect(), pos: 0 };
        let mut requirements = Vec::new();
        loop {
            lexer.skip_spaces();
            if lexer.at_end() {
                if !requirements.is_empty() {
                    return Err(parse_error(text, "found '', expected: identifier after ','"));
                }
                break;
            }
            requirements.push(lexer.requirement(text)?);
            lexer.skip_spaces();
            if lexer.at_end() {
                break;
            }
            if !lexer.eat(',') {
                return Err(parse_error(text, &format!("found '{}', expected: ',' or 'end of string'", lexer.rest())));
            }
        }
        Ok(LabelSelector(requirements))
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels: BTreeMap<String, String> = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        self.0.iter().all(|r| r.matches(&labels))
    }
}

fn parse_error(text: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {why} in selector {text:?}"))
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn rest(&self) -> String {
        self.chars[self.pos.min(self.chars.len())..].iter().collect()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let wanted: Vec<char> = s.chars().collect();
        if self.chars[self.pos..].starts_with(&wanted) {
            self.pos += wanted.len();
            true
        } else {
            false
        }
    }

    /// A key or value: everything up to a delimiter of the grammar.
    fn word(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || "=!,()<>".contains(c) {
                break;
            }
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn requirement(&mut self, text: &str) -> Result<Requirement, ApiError> {
        if self.eat('!') {
            self.skip_spaces();
            let key = self.key(text)?;
            return Ok(Requirement { key, op: Op::DoesNotExist });
        }
        let key = self.key(text)?;
        self.skip_spaces();
        let op = if self.at_end() || self.peek() == Some(',') {
            Op::Exists
        } else if self.eat_str("==") || self.eat('=') {
            Op::Equals(self.value(text)?)
        } else if self.eat_str("!=") {
            Op::NotEquals(self.value(text)?)
        } else if self.eat('>') {
            Op::GreaterThan(self.number(text)?)
        } else if self.eat('<') {
            Op::LessThan(self.number(text)?)
        } else {
            let word = self.word();
            match word.as_str() {
                "in" => Op::In(self.set(text)?),
                "notin" => Op::NotIn(self.set(text)?),
                other => {
                    return Err(parse_error(text, &format!("found '{other}', expected: in, notin, =, ==, !=, gt, lt")));
                }
            }
        };
        Ok(Requirement { key, op })
    }

    fn key(&mut self, text: &str) -> Result<String, ApiError> {
        let key = self.word();
        if key.is_empty() {
            return Err(parse_error(text, &format!("found '{}', expected: identifier", self.rest())));
        }
        if let Some(problem) = validate::qualified_name_problems(&key).into_iter().next() {
            return Err(parse_error(text, &format!("key: Invalid value: {key:?}: {problem}")));
        }
        Ok(key)
    }

    fn value(&mut self, text: &str) -> Result<String, ApiError> {
        self.skip_spaces();
        let value = self.word();
        if let Some(problem) = validate::label_value_problems(&value).into_iter().next() {
            return Err(parse_error(text, &format!("values[0]: Invalid value: {value:?}: {problem}")));
        }
        Ok(value)
    }

    fn number(&mut self, text: &str) -> Result<i64, ApiError> {
        self.skip_spaces();
        let value = self.word();
        value.parse().map_err(|_| {
            parse_error(text, &format!("for 'Gt', 'Lt' operators, the value must be an integer, found {value:?}"))
        })
    }

    fn set(&mut self, text: &str) -> Result<Vec<String>, ApiError> {
        self.skip_spaces();
        if !self.eat('(') {
            return Err(parse_error(text, &format!("found '{}', expected: '('", self.rest())));
        }
        let mut values = Vec::new();
        loop {
            self.skip_spaces();
            if self.eat(')') {
                break;
            }
            values.push(self.value(text)?);
            self.skip_spaces();
            if self.eat(')') {
                break;
            }
            if !self.eat(',') {
                return Err(parse_error(text, &format!("found '{}', expected: ',', or ')'", self.rest())));
            }
        }
        if values.is_empty() {
            return Err(parse_error(text, "for 'in', 'notin' operators, values set can't be empty"));
        }
        Ok(values)
    }
}

/// A parsed `fieldSelector`: `metadata.name`, `metadata.namespace` and, for
/// Secrets, `type`, with `=`, `==` and `!=`.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(text: &str, extra_fields: &[&str]) -> Result<FieldSelector, ApiError> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!("invalid selector: '{text}'; can't understand '{term}'")));
            };
            let field = field.trim();
            if field != "metadata.name" && field != "metadata.namespace" && !extra_fields.contains(&field) {
                return Err(ApiError::bad_request(format!("field label not supported: {field}")));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = object.pointer(&pointer).and_then(Value::as_str).unwrap_or("");
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"labels": labels}})
    }

    #[test]
    fn all_operators_match_like_the_real_parser() {
        let o = obj(json!({"env": "prod", "tier": "web", "n": "5"}));
        for (sel, want) in [
            ("env=prod", true),
            ("env==prod", true),
            ("env!=prod", false),
            ("env in (prod, dev)", true),
            ("env notin (prod)", false),
            ("missing notin (x)", true),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("env=prod,tier=db", false),
            ("n>4,n<6", true),
            ("", true),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&o), want, "{sel}");
        }
    }

    #[test]
    fn malformed_selectors_are_bad_requests() {
        for sel in ["env in prod", "env=prod,", "=x", "env in ()", "a b"] {
            assert_eq!(LabelSelector::parse(sel).unwrap_err().code, 400, "{sel}");
        }
    }
}
