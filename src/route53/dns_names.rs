//! DNS names as Route53 takes them: syntax checks for plan time and the comparison Route53 uses.
//!
//! Route53 answers names in lowercase with a trailing dot and some characters escaped (`*` as
//! `\052`), while users write `Burnham.example.com`. We compare on the normalized form and keep
//! the user's spelling in state, so neither side produces a diff the user did not cause.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest DNS name, in octets, without the trailing dot.
const NAME_MAX: usize = 255;
/// Longest DNS label.
const LABEL_MAX: usize = 63;

/// Why a DNS name is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsNameError {
    #[error("must not be empty")]
    Empty,
    #[error("is {len} characters long; a DNS name has at most {NAME_MAX}")]
    TooLong { len: usize },
    #[error("has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("has the label {label:?} of {len} characters; a label has at most {LABEL_MAX}")]
    LabelTooLong { label: String, len: usize },
    #[error("has the label {label:?}: labels hold letters, digits, '-' and '_' (and '*' alone as the first label)")]
    BadLabel { label: String },
}

/// Checks the syntax of a DNS name as a record name or alias target: labels of letters,
/// digits, `-` and `_`, a lone `*` as the leftmost label, an optional trailing dot.
///
/// # Errors
/// The first rule the name breaks.
pub fn check_dns_name(name: &str) -> Result<(), DnsNameError> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Err(DnsNameError::Empty);
    }
    if bare.len() > NAME_MAX {
        return Err(DnsNameError::TooLong { len: bare.len() });
    }
    for (i, label) in bare.split('.').enumerate() {
        if label.is_empty() {
            return Err(DnsNameError::EmptyLabel);
        }
        if label.len() > LABEL_MAX {
            return Err(DnsNameError::LabelTooLong { label: label.to_string(), len: label.len() });
        }
        let wildcard = i == 0 && label == "*";
        let plain = label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !wildcard && !plain {
            return Err(DnsNameError::BadLabel { label: label.to_string() });
        }
    }
    Ok(())
}

/// The form names are compared in: lowercase, no trailing dot, Route53's `\ooo` escapes decoded.
pub fn normalize(name: &str) -> String {
    let decoded = decode_escapes(name);
    decoded.strip_suffix('.').unwrap_or(&decoded).to_ascii_lowercase()
}

/// True when two names denote the same DNS name.
pub fn same_name(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

/// True when `name` is `zone` itself or lies below it.
pub fn is_within_zone(name: &str, zone: &str) -> bool {
    let (name, zone) = (normalize(name), normalize(zone));
    name == zone || name.strip_suffix(&zone).is_some_and(|head| head.ends_with('.'))
}

/// Route53 returns characters outside `[a-z0-9-_.]` as three-digit octal escapes (`\052` is `*`).
fn decode_escapes(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match escape.and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks one value of a record of `record_type` (`A`, `AAAA`, `CNAME`, `TXT`).
///
/// # Errors
/// A sentence saying what the value must be.
pub fn check_record_value(record_type: &str, value: &str) -> Result<(), String> {
    match record_type {
        "A" => {
            value.parse::<Ipv4Addr>().map(drop).map_err(|_| "must be an IPv4 address such as 192.0.2.10".to_string())
        }
        "AAAA" => {
            value.parse::<Ipv6Addr>().map(drop).map_err(|_| "must be an IPv6 address such as 2001:db8::10".to_string())
        }
        "CNAME" => check_dns_name(value).map_err(|e| format!("must be a DNS name; it {e}")),
        "TXT" if value.len() > 4000 => {
            Err("is longer than the 4000 characters Route53 allows in one TXT value".to_string())
        }
        _ => Ok(()),
    }
}

/// A TXT value as Route53 wants it: one or more quoted strings of at most 255 characters each,
/// with `"` and `\` escaped. Users write the plain text; this is done for them.
pub fn quote_txt(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let chunks: Vec<String> =
        if chars.is_empty() { vec![String::new()] } else { chars.chunks(255).map(|c| c.iter().collect()).collect() };
    chunks
        .iter()
        .map(|chunk| format!("\"{}\"", chunk.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The plain text of a TXT value read from Route53: quoted strings joined, escapes removed.
/// A value that is not quoted at all is returned as it is.
pub fn unquote_txt(value: &str) -> String {
    if !value.starts_with('"') {
        return value.to_string();
    }
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (false, '"') => in_string = true,
            (true, '"') => in_string = false,
            (true, '\\') => out.extend(chars.next()),
            (true, c) => out.push(c),
            (false, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        let long_label = "a".repeat(64);
        let long_name = vec!["abcdefghi"; 26].join(".");
        let cases: Vec<(&str, Result<(), DnsNameError>)> = vec![
            ("burnham.example.com", Ok(())),
            ("burnham.example.com.", Ok(())),
            ("Burnham.Example.COM", Ok(())),
            ("*.example.com", Ok(())),
            ("_acme-challenge.example.com", Ok(())),
            ("", Err(DnsNameError::Empty)),
            (".", Err(DnsNameError::Empty)),
            ("a..example.com", Err(DnsNameError::EmptyLabel)),
            (".example.com", Err(DnsNameError::EmptyLabel)),
            ("a.*.example.com", Err(DnsNameError::BadLabel { label: "*".into() })),
            ("bad name.example.com", Err(DnsNameError::BadLabel { label: "bad name".into() })),
            (long_name.as_str(), Err(DnsNameError::TooLong { len: 259 })),
        ];
        for (name, want) in cases {
            assert_eq!(check_dns_name(name), want, "{name:?}");
        }
        let with_long_label = format!("{long_label}.example.com");
        assert_eq!(check_dns_name(&with_long_label), Err(DnsNameError::LabelTooLong { label: long_label, len: 64 }));
    }

    #[test]
    fn names_compare_without_case_trailing_dot_or_escapes() {
        assert!(same_name("Burnham.Example.com", "burnham.example.com."));
        assert!(same_name("\\052.example.com.", "*.example.com"));
        assert!(!same_name("burnham.example.com", "burnham.example.org"));
        assert_eq!(normalize("A\\\\b."), "a\\\\b");
    }

    #[test]
    fn zone_membership() {
        assert!(is_within_zone("burnham.Example.com.", "example.com"));
        assert!(is_within_zone("example.com", "example.com."));
        assert!(!is_within_zone("badexample.com", "example.com"));
        assert!(!is_within_zone("example.org", "example.com"));
    }

    #[test]
    fn record_values() {
        let cases = [
            ("A", "192.0.2.10", true),
            ("A", "2001:db8::1", false),
            ("A", "lb.example.com", false),
            ("AAAA", "2001:db8::1", true),
            ("AAAA", "192.0.2.10", false),
            ("CNAME", "green-ingress.elb.amazonaws.com", true),
            ("CNAME", "not a name", false),
            ("TXT", "anything \"goes\"", true),
        ];
        for (ty, value, ok) in cases {
            assert_eq!(check_record_value(ty, value).is_ok(), ok, "{ty} {value:?}");
        }
    }

    #[test]
    fn txt_values_round_trip_through_quoting() {
        let long = "x".repeat(300);
        for plain in ["v=spf1 -all", "say \"hi\" \\ bye", "", long.as_str()] {
            assert_eq!(unquote_txt(&quote_txt(plain)), plain);
        }
        assert_eq!(quote_txt(&long).matches('"').count(), 4);
        assert_eq!(unquote_txt("unquoted"), "unquoted");
    }
}
