//! The two template languages of ApplicationSets, as far as the stand-in needs them.
//!
//! - fasttemplate (the default): `{{name}}`, `{{ metadata.labels.env }}` are looked up in a flat map
//!   of parameters; a tag without a parameter stays as it was.
//! - Go templates (`spec.goTemplate: true`): `{{.name}}`, `{{.metadata.annotations.x}}`,
//!   `{{index .metadata.labels "x"}}`, pipelines (`{{.name | upper}}`), string, number and boolean
//!   literals, `{{-`/`-}}` trimming, and a few of the functions Argo CD offers (`index`, `default`,
//!   `lower`, `upper`, `trim`, `trimPrefix`, `trimSuffix`, `replace`, `trunc`, `quote`, `printf`,
//!   `toJson`). `missingkey=error` turns a missing map key into an error; otherwise it prints
//!   `<no value>`, as Go does. Control structures (`if`, `range`, …) are not supported: they are
//!   reported as errors so a test never passes on a silently wrong rendering.

use serde_json::{Map, Value};

/// A rendering failure, worded for an ApplicationSet condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to execute go template {template}: {reason}")]
pub struct TemplateError {
    pub template: String,
    pub reason: String,
}

/// How a template is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Fasttemplate,
    Go { missing_key_error: bool },
}

/// Renders every string (map keys too) of `template` with `params`.
pub fn render(template: &Value, params: &Value, syntax: Syntax) -> Result<Value, TemplateError> {
    Ok(match template {
        Value::String(text) => Value::String(render_text(text, params, syntax)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| render(item, params, syntax)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                out.insert(render_text(key, params, syntax)?, render(value, params, syntax)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

pub fn render_text(text: &str, params: &Value, syntax: Syntax) -> Result<String, TemplateError> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    match syntax {
        Syntax::Fasttemplate => Ok(fasttemplate(text, params)),
        Syntax::Go { missing_key_error } => go_template(text, params, missing_key_error),
    }
}

/// fasttemplate over flat parameters (`params` is an object whose keys hold dots).
fn fasttemplate(text: &str, params: &Value) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let tag = &after[..end];
        match params.get(tag.trim()) {
            Some(Value::String(value)) => out.push_str(value),
            Some(Value::Null) | None => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn go_template(text: &str, params: &Value, missing_key_error: bool) -> Result<String, TemplateError> {
    let fail = |reason: String| TemplateError { template: text.to_string(), reason };
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let mut literal = &rest[..start];
        let mut action = &rest[start + 2..];
        let Some(end) = action.find("}}") else { return Err(fail("unclosed action".into())) };
        let trim_right = action[..end].ends_with(" -") || &action[..end] == "-";
        let after = &action[end + 2..];
        action = &action[..end];
        if let Some(stripped) = action.strip_prefix("- ") {
            literal = literal.trim_end();
            action = stripped;
        }
        if trim_right {
            action = action.strip_suffix('-').unwrap_or(action);
        }
        out.push_str(literal);
        let value = evaluate_pipeline(action.trim(), params, missing_key_error).map_err(fail)?;
        out.push_str(&print(&value));
        rest = if trim_right { after.trim_start() } else { after };
    }
    out.push_str(rest);
    Ok(out)
}

/// What an evaluation produced; `Missing` is Go's "no value" for a key a map does not have.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Json(Value),
    Missing,
}

fn print(value: &Val) -> String {
    match value {
        Val::Missing | Val::Json(Value::Null) => "<no value>".into(),
        Val::Json(Value::String(s)) => s.clone(),
        Val::Json(other) => other.to_string(),
    }
}

fn as_text(value: &Val) -> String {
    match value {
        Val::Json(Value::String(s)) => s.clone(),
        Val::Missing | Val::Json(Value::Null) => String::new(),
        Val::Json(other) => other.to_string(),
    }
}

fn evaluate_pipeline(pipeline: &str, params: &Value, missing_key_error: bool) -> Result<Val, String> {
    let commands = split_outside_quotes(pipeline, '|')?;
    let mut carried: Option<Val> = None;
    for command in commands {
        let words = words(command.trim())?;
        let Some((head, args)) = words.split_first() else { return Err("missing value for command".into()) };
        let mut values = Vec::new();
        for arg in args {
            values.push(operand(arg, params, missing_key_error)?);
        }
        if let Some(previous) = carried.take() {
            values.push(previous);
        }
        let result = if is_function(head) {
            call(head, values)?
        } else if values.is_empty() {
            operand(head, params, missing_key_error)?
        } else {
            return Err(format!("can't give argument to non-function {head}"));
        };
        carried = Some(result);
    }
    carried.ok_or_else(|| "missing value for command".to_string())
}

const FUNCTIONS: &[&str] = &[
    "index",
    "default",
    "lower",
    "upper",
    "trim",
    "trimPrefix",
    "trimSuffix",
    "replace",
    "trunc",
    "quote",
    "printf",
    "toJson",
];

fn is_function(word: &str) -> bool {
    FUNCTIONS.contains(&word)
}

fn operand(word: &str, params: &Value, missing_key_error: bool) -> Result<Val, String> {
    if let Some(text) = word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        return Ok(Val::Json(Value::String(unescape(text))));
    }
    if let Some(text) = word.strip_prefix('`').and_then(|w| w.strip_suffix('`')) {
        return Ok(Val::Json(Value::String(text.to_string())));
    }
    if word == "true" || word == "false" {
        return Ok(Val::Json(Value::Bool(word == "true")));
    }
    if let Ok(number) = word.parse::<i64>() {
        return Ok(Val::Json(Value::from(number)));
    }
    let path = if word == "." || word == "$" {
        ""
    } else if let Some(path) = word.strip_prefix("$.").or_else(|| word.strip_prefix('.')) {
        path
    } else if matches!(word, "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block") {
        return Err(format!("{word:?} is not supported by kube-test-server's Go templates"));
    } else {
        return Err(format!("function {word:?} not defined"));
    };
    let mut current = Val::Json(params.clone());
    for key in path.split('.').filter(|k| !k.is_empty()) {
        current = match current {
            Val::Json(Value::Object(map)) => match map.get(key) {
                Some(value) => Val::Json(value.clone()),
                None if missing_key_error => return Err(format!("map has no entry for key {key:?}")),
                None => Val::Missing,
            },
            Val::Missing | Val::Json(Value::Null) => {
                return Err(format!("nil pointer evaluating interface {{}}.{key}"));
            }
            Val::Json(other) => return Err(format!("can't evaluate field {key} in type {}", go_type(&other))),
        };
    }
    Ok(current)
}

fn go_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::Array(_) => "[]interface {}",
        _ => "interface {}",
    }
}

fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    let text = |v: &Val| as_text(v);
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("wrong number of args for {name}: want {n} got {}", args.len()))
        }
    };
    let string = |s: String| Ok(Val::Json(Value::String(s)));
    match name {
        "index" => {
            let Some((first, keys)) = args.split_first() else { return Err("wrong number of args for index".into()) };
            let mut current = first.clone();
            for key in keys {
                current = match (&current, key) {
                    (Val::Json(Value::Object(map)), Val::Json(Value::String(k))) => {
                        map.get(k).cloned().map(Val::Json).unwrap_or(Val::Missing)
                    }
                    (Val::Json(Value::Array(items)), Val::Json(Value::Number(n))) => {
                        let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                        items.get(i).cloned().map(Val::Json).ok_or_else(|| format!("index out of range: {i}"))?
                    }
                    (Val::Missing | Val::Json(Value::Null), _) => Val::Missing,
                    _ => return Err("can't index item".into()),
                };
            }
            Ok(current)
        }
        "default" => {
            want(2)?;
            let empty = match &args[1] {
                Val::Missing | Val::Json(Value::Null) => true,
                Val::Json(Value::String(s)) => s.is_empty(),
                Val::Json(Value::Bool(b)) => !b,
                Val::Json(Value::Array(a)) => a.is_empty(),
                Val::Json(Value::Object(o)) => o.is_empty(),
                Val::Json(Value::Number(n)) => n.as_f64() == Some(0.0),
            };
            Ok(if empty { args[0].clone() } else { args[1].clone() })
        }
        "lower" => want(1).and_then(|_| string(text(&args[0]).to_lowercase())),
        "upper" => want(1).and_then(|_| string(text(&args[0]).to_uppercase())),
        "trim" => want(1).and_then(|_| string(text(&args[0]).trim().to_string())),
        "trimPrefix" => {
            want(2)?;
            let (prefix, s) = (text(&args[0]), text(&args[1]));
            string(s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_string())
        }
        "trimSuffix" => {
            want(2)?;
            let (suffix, s) = (text(&args[0]), text(&args[1]));
            string(s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_string())
        }
        "replace" => want(3).and_then(|_| string(text(&args[2]).replace(&text(&args[0]), &text(&args[1])))),
        "trunc" => {
            want(2)?;
            let n = match &args[0] {
                Val::Json(Value::Number(n)) => n.as_i64().unwrap_or(0),
                other => return Err(format!("trunc: {} is not a number", print(other))),
            };
            let s = text(&args[1]);
            let count = s.chars().count() as i64;
            string(if n >= 0 {
                s.chars().take(n as usize).collect()
            } else {
                s.chars().skip((count + n).max(0) as usize).collect()
            })
        }
        "quote" => string(args.iter().map(|a| format!("{:?}", text(a))).collect::<Vec<_>>().join(" ")),
        "toJson" => want(1).and_then(|_| match &args[0] {
            Val::Missing => string("null".into()),
            Val::Json(v) => string(v.to_string()),
        }),
        "printf" => {
            let Some((format, rest)) = args.split_first() else { return Err("wrong number of args for printf".into()) };
            let format = text(format);
            let mut out = String::new();
            let mut rest = rest.iter();
            let mut chars = format.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('%') => out.push('%'),
                    Some('s' | 'v' | 'd') => {
                        out.push_str(&rest.next().map(print).unwrap_or_else(|| "%!v(MISSING)".into()))
                    }
                    Some('q') => out.push_str(&format!("{:?}", rest.next().map(as_text).unwrap_or_default())),
                    other => return Err(format!("printf verb %{} is not supported", other.unwrap_or(' '))),
                }
            }
            string(out)
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

fn unescape(text: &str) -> String {
    serde_json::from_str(&format!("\"{text}\"")).unwrap_or_else(|_| text.to_string())
}

/// Splits at `separator` outside quotes.
fn split_outside_quotes(text: &str, separator: char) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '`' => quote = Some(c),
            None if c == separator => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            None => {}
        }
    }
    if quote.is_some() {
        return Err("unterminated quoted string".into());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// Words of a command: whitespace outside quotes separates them.
fn words(command: &str) -> Result<Vec<String>, String> {
    if command.contains('(') {
        return Err("parenthesised pipelines are not supported by kube-test-server's Go templates".into());
    }
    let mut words = Vec::new();
    for part in split_outside_quotes(command, ' ')? {
        let part = part.trim();
        if !part.is_empty() {
            words.push(part.to_string());
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn go(text: &str, params: &Value) -> Result<String, TemplateError> {
        render_text(text, params, Syntax::Go { missing_key_error: false })
    }

    #[test]
    fn fasttemplate_replaces_known_tags_and_keeps_unknown_ones() {
        let params = json!({"name": "eks-blue", "metadata.annotations.addons_repo_url": "https://git/x"});
        let cases = [
            ("{{name}}", "eks-blue"),
            ("addons-{{ name }}", "addons-eks-blue"),
            ("{{metadata.annotations.addons_repo_url}}", "https://git/x"),
            ("{{metadata.labels.missing}}-{{name}}", "{{metadata.labels.missing}}-eks-blue"),
            ("no tags", "no tags"),
            ("{{name", "{{name"),
        ];
        for (template, want) in cases {
            assert_eq!(render_text(template, &params, Syntax::Fasttemplate).unwrap(), want, "{template}");
        }
    }

    #[test]
    fn go_templates_read_nested_parameters() {
        let params = json!({
            "name": "eks-green", "server": "https://green",
            "metadata": {"labels": {"environment": "prod", "a/b": "slash"}, "annotations": {"repo": "https://r"}},
            "values": {"branch": "main"}
        });
        let cases = [
            ("{{.name}}", "eks-green"),
            ("{{ .server }}", "https://green"),
            ("{{.metadata.annotations.repo}}", "https://r"),
            (r#"{{index .metadata.labels "a/b"}}"#, "slash"),
            ("{{.values.branch}}", "main"),
            ("{{.name | upper}}", "EKS-GREEN"),
            (r#"{{default "x" .values.none}}"#, "x"),
            ("{{.metadata.labels.none}}", "<no value>"),
            (r#"{{index .metadata.labels "none"}}"#, "<no value>"),
            ("a {{- .name -}} b", "aeks-greenb"),
            (r#"{{printf "%s-%s" .name .values.branch}}"#, "eks-green-main"),
            (r#"{{ replace "eks-" "" .name | trunc 3 }}"#, "gre"),
        ];
        for (template, want) in cases {
            assert_eq!(go(template, &params).unwrap(), want, "{template}");
        }
    }

    #[test]
    fn missingkey_error_fails_and_unsupported_syntax_is_an_error() {
        let params = json!({"name": "x", "metadata": {"labels": {}}});
        let strict = Syntax::Go { missing_key_error: true };
        let err = render_text("{{.metadata.labels.env}}", &params, strict).unwrap_err();
        assert_eq!(err.reason, "map has no entry for key \"env\"");
        assert!(err.to_string().starts_with("failed to execute go template {{.metadata.labels.env}}"));
        assert!(go("{{if .name}}y{{end}}", &params).is_err());
        assert!(go("{{.name.first}}", &params).unwrap_err().reason.contains("can't evaluate field first"));
        assert!(go("{{nosuch .name}}", &params).is_err());
    }

    #[test]
    fn keys_and_nested_values_are_rendered() {
        let params = json!({"name": "c1"});
        let template = json!({"labels": {"cluster-{{.name}}": "{{.name}}"}, "list": ["{{.name}}", 3, true]});
        let out = render(&template, &params, Syntax::Go { missing_key_error: false }).unwrap();
        assert_eq!(out, json!({"labels": {"cluster-c1": "c1"}, "list": ["c1", 3, true]}));
    }
}
