//! Kubernetes naming rules for label keys and values, annotation keys and object names.
//!
//! Terraform must reject a bad key at plan time, before anything is written, and point at the
//! attribute that holds it; the API server would only say so at apply. Every check returns the
//! reason in words a user can act on.

use std::fmt;

/// Longest DNS subdomain (object names, label and annotation key prefixes).
const DNS_SUBDOMAIN_MAX: usize = 253;
/// Longest label key name part, label value and DNS label.
const NAME_PART_MAX: usize = 63;

/// Why a name, key or value is not acceptable to Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("is {len} characters long; at most {max} are allowed")]
    TooLong { len: usize, max: usize },
    #[error("may contain only letters, digits, '-', '_' and '.', and must begin and end with a letter or digit")]
    BadLabelChars,
    #[error(
        "must be a DNS subdomain: lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit"
    )]
    BadSubdomain,
    #[error("must be a DNS label: lowercase letters, digits and '-', beginning and ending with a letter or digit")]
    BadDnsLabel,
    #[error("has a prefix before '/' that {0}")]
    BadPrefix(Box<NameError>),
    #[error("has an empty name after the '/' prefix")]
    EmptyNameAfterPrefix,
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// The shared grammar of label names and values: `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
fn check_label_chars(s: &str) -> Result<(), NameError> {
    let first_last_ok = s.chars().next().is_some_and(is_alnum) && s.chars().last().is_some_and(is_alnum);
    let body_ok = s.chars().all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'));
    if first_last_ok && body_ok { Ok(()) } else { Err(NameError::BadLabelChars) }
}

/// A DNS subdomain (RFC 1123): object names such as a Secret's, and key prefixes.
pub fn check_dns_subdomain(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.len() > DNS_SUBDOMAIN_MAX {
        return Err(NameError::TooLong { len: s.len(), max: DNS_SUBDOMAIN_MAX });
    }
    let label_ok = |part: &str| {
        !part.is_empty()
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !part.starts_with('-')
            && !part.ends_with('-')
    };
    if s.split('.').all(label_ok) { Ok(()) } else { Err(NameError::BadSubdomain) }
}

/// A DNS label (RFC 1123): namespace names.
pub fn check_dns_label(s: &str) -> Result<(), NameError> {
    if s.len() > NAME_PART_MAX {
        return Err(NameError::TooLong { len: s.len(), max: NAME_PART_MAX });
    }
    check_dns_subdomain(s)?;
    if s.contains('.') { Err(NameError::BadDnsLabel) } else { Ok(()) }
}

/// A qualified key (label or annotation key): an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 characters.
fn check_qualified_key(key: &str) -> Result<(), NameError> {
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            check_dns_subdomain(prefix).map_err(|e| NameError::BadPrefix(Box::new(e)))?;
            if name.is_empty() {
                return Err(NameError::EmptyNameAfterPrefix);
            }
            name
        }
        None => key,
    };
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > NAME_PART_MAX {
        return Err(NameError::TooLong { len: name.len(), max: NAME_PART_MAX });
    }
    check_label_chars(name)
}

/// A label key, e.g. `environment` or `argocd.argoproj.io/secret-type`.
pub fn check_label_key(key: &str) -> Result<(), NameError> {
    check_qualified_key(key)
}

/// An annotation key: the same grammar as a label key.
pub fn check_annotation_key(key: &str) -> Result<(), NameError> {
    check_qualified_key(key)
}

/// A label value: empty, or at most 63 characters of the label grammar.
pub fn check_label_value(value: &str) -> Result<(), NameError> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > NAME_PART_MAX {
        return Err(NameError::TooLong { len: value.len(), max: NAME_PART_MAX });
    }
    check_label_chars(value)
}

/// Turns a free-form name (a cluster name such as `EKS_Green`) into a valid object name
/// (`eks-green`): lowercase, runs of other characters become one `-`, no leading or trailing
/// separators, at most 253 characters. `None` when nothing usable is left.
pub fn derive_object_name(source: &str) -> Option<String> {
    let mut out = String::with_capacity(source.len());
    for c in source.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if c == '.' && !out.ends_with(['.', '-']) && !out.is_empty() {
            out.push('.');
        } else if !out.ends_with(['.', '-']) && !out.is_empty() {
            out.push('-');
        }
    }
    out.truncate(DNS_SUBDOMAIN_MAX);
    let trimmed = out.trim_end_matches(['-', '.']);
    if trimmed.is_empty() { None } else { Some(trimmed.to_string()) }
}

/// What kind of thing a [`NameError`] was about, for messages.
#[derive(Clone, Copy, Debug)]
pub enum NameKind {
    LabelKey,
    LabelValue,
    AnnotationKey,
    ObjectName,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::LabelKey => "label key",
            NameKind::LabelValue => "label value",
            NameKind::AnnotationKey => "annotation key",
            NameKind::ObjectName => "Kubernetes object name",
        })
    }
}

/// Splits an import id `<namespace>/<name>` and checks both parts. The error says what is
/// wrong in words the caller wraps with the id; `what` names the object ("Secret name", "name")
/// and `example` shows a valid id.
pub fn parse_namespaced_id(id: &str, what: &str, example: &str) -> Result<(String, String), String> {
    let (namespace, name) =
        id.split_once('/').ok_or_else(|| format!("expected <namespace>/<{}>, e.g. {example}", what.to_lowercase()))?;
    check_dns_label(namespace).map_err(|e| format!("the namespace {namespace:?} {e}"))?;
    check_dns_subdomain(name).map_err(|e| format!("the {what} {name:?} {e}"))?;
    Ok((namespace.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys() {
        let long63 = "a".repeat(63);
        let long64 = "a".repeat(64);
        let long_prefix = format!("{}.com/x", "a".repeat(250));
        let cases: &[(&str, bool)] = &[
            ("environment", true),
            ("enable_metrics_server", true),
            ("argocd.argoproj.io/secret-type", true),
            ("a", true),
            ("A.b-c_D", true),
            (&long63, true),
            (&long64, false),
            ("", false),
            ("-bad", false),
            ("bad_", false),
            ("has space", false),
            ("UPPER.example.com/x", false),
            ("example.com/", false),
            ("/name", false),
            ("a/b/c", false),
            (&long_prefix, false),
            ("héllo", false),
        ];
        for (key, ok) in cases {
            assert_eq!(check_label_key(key).is_ok(), *ok, "{key:?}: {:?}", check_label_key(key));
        }
    }

    #[test]
    fn label_values() {
        let long63 = "v".repeat(63);
        let long64 = "v".repeat(64);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("true", true),
            ("eks-green_1.2", true),
            (&long63, true),
            (&long64, false),
            ("-x", false),
            ("x.", false),
            ("a/b", false),
            ("with space", false),
        ];
        for (value, ok) in cases {
            assert_eq!(check_label_value(value).is_ok(), *ok, "{value:?}");
        }
    }

    #[test]
    fn dns_subdomains() {
        let cases: &[(&str, bool)] = &[
            ("eks-green", true),
            ("in-cluster", true),
            ("a.b.c", true),
            ("0abc", true),
            ("", false),
            ("Eks", false),
            ("eks_green", false),
            ("-a", false),
            ("a-", false),
            ("a..b", false),
            (".a", false),
        ];
        for (name, ok) in cases {
            assert_eq!(check_dns_subdomain(name).is_ok(), *ok, "{name:?}");
        }
        assert!(check_dns_subdomain(&"a".repeat(254)).is_err());
    }

    #[test]
    fn dns_labels() {
        for (name, ok) in [("argocd", true), ("argo-cd", true), ("a.b", false), ("Argo", false), ("", false)] {
            assert_eq!(check_dns_label(name).is_ok(), ok, "{name:?}");
        }
        assert!(check_dns_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn object_name_derivation() {
        let cases: &[(&str, Option<&str>)] = &[
            ("eks-green", Some("eks-green")),
            ("EKS_Green", Some("eks-green")),
            ("hub cluster", Some("hub-cluster")),
            ("__a__b__", Some("a-b")),
            ("a..b", Some("a.b")),
            ("a._b", Some("a.b")),
            ("prod/eks:1", Some("prod-eks-1")),
            ("---", None),
            ("", None),
            ("日本", None),
        ];
        for (input, want) in cases {
            let got = derive_object_name(input);
            assert_eq!(got.as_deref(), *want, "{input:?}");
            if let Some(name) = got {
                assert!(check_dns_subdomain(&name).is_ok(), "{name:?} derived from {input:?} is invalid");
            }
        }
        let long = derive_object_name(&"x".repeat(400)).unwrap();
        assert_eq!(long.len(), 253);
    }
}
