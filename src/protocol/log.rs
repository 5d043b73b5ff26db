//! Logging to stderr as hclog JSON lines, the form go-plugin parses and Terraform re-emits under
//! `TF_LOG` / `TF_LOG_PROVIDER`.
//!
//! The level comes from `TF_LOG_PROVIDER`, else `TF_LOG`; without either only warnings and errors
//! are written (Terraform discards plugin output then anyway). A disabled level costs one atomic
//! load: the macros check it before building anything.
//!
//! Never log values from configuration, plan or state: they may hold secrets. (Lines are redacted
//! of every secret the provider has seen all the same.)
//!
//! ```ignore
//! tf_debug!("planned", resource = "gitopsbridge_cluster_metadata", millis = 3);
//! ```

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// The module name Terraform shows for our lines.
pub const MODULE: &str = "provider.gitopsbridge";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Off = 5,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Off => "off",
        }
    }

    /// Parses a `TF_LOG` value. `JSON` is Terraform's "trace, as JSON".
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_uppercase().as_str() {
            "TRACE" | "JSON" => Some(Level::Trace),
            "DEBUG" => Some(Level::Debug),
            "INFO" => Some(Level::Info),
            "WARN" => Some(Level::Warn),
            "ERROR" => Some(Level::Error),
            "OFF" => Some(Level::Off),
            _ => None,
        }
    }

    fn from_u8(n: u8) -> Level {
        match n {
            0 => Level::Trace,
            1 => Level::Debug,
            2 => Level::Info,
            3 => Level::Warn,
            4 => Level::Error,
            _ => Level::Off,
        }
    }
}

/// Without any `TF_LOG*` setting.
pub const DEFAULT_LEVEL: Level = Level::Warn;

static LEVEL: AtomicU8 = AtomicU8::new(DEFAULT_LEVEL as u8);

/// The level from the environment variables Terraform users already set.
pub fn level_from_env(get: impl Fn(&str) -> Option<String>) -> Level {
    ["TF_LOG_PROVIDER", "TF_LOG"]
        .into_iter()
        .filter_map(|name| get(name).filter(|v| !v.trim().is_empty()))
        .find_map(|v| Level::parse(&v))
        .unwrap_or(DEFAULT_LEVEL)
}

pub fn init_from_env() {
    set_level(level_from_env(|name| std::env::var(name).ok()));
}

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn level() -> Level {
    Level::from_u8(LEVEL.load(Ordering::Relaxed))
}

#[inline]
pub fn enabled(level: Level) -> bool {
    level != Level::Off && level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Turns a field value into JSON for a log line (used by the macros).
pub fn field<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Formats one hclog JSON line (without the newline).
pub fn format_line(
    level: Level,
    message: &str,
    fields: &[(&str, serde_json::Value)],
    timestamp: jiff::Timestamp,
) -> String {
    let mut line = serde_json::Map::with_capacity(4 + fields.len());
    line.insert("@level".into(), level.as_str().into());
    line.insert("@message".into(), message.into());
    line.insert("@module".into(), MODULE.into());
    line.insert("@timestamp".into(), timestamp.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().into());
    for (key, value) in fields {
        // Reserved keys stay ours; absent (null) fields are left out.
        if !key.starts_with('@') && !value.is_null() {
            line.insert((*key).to_string(), value.clone());
        }
    }
    serde_json::Value::Object(line).to_string()
}

/// Writes one line to stderr if `level` is enabled. Errors writing stderr are ignored: there is
/// nowhere else to report them.
pub fn emit(level: Level, message: &str, fields: &[(&str, serde_json::Value)]) {
    if !enabled(level) {
        return;
    }
    let mut line = super::redact::redact(&format_line(level, message, fields, jiff::Timestamp::now())).into_owned();
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Logs at a level: `tf_log!(Level::Info, "message", key = value, …)`; values are anything
/// `serde::Serialize`.
#[macro_export]
macro_rules! tf_log {
    ($level:expr, $message:expr $(, $key:ident = $value:expr)* $(,)?) => {{
        let level = $level;
        if $crate::protocol::log::enabled(level) {
            $crate::protocol::log::emit(
                level,
                &$message,
                &[$((stringify!($key), $crate::protocol::log::field(&$value))),*],
            );
        }
    }};
}

#[macro_export]
macro_rules! tf_trace {
    ($($args:tt)*) => { $crate::tf_log!($crate::protocol::log::Level::Trace, $($args)*) };
}

#[macro_export]
macro_rules! tf_debug {
    ($($args:tt)*) => { $crate::tf_log!($crate::protocol::log::Level::Debug, $($args)*) };
}

#[macro_export]
macro_rules! tf_info {
    ($($args:tt)*) => { $crate::tf_log!($crate::protocol::log::Level::Info, $($args)*) };
}

#[macro_export]
macro_rules! tf_warn {
    ($($args:tt)*) => { $crate::tf_log!($crate::protocol::log::Level::Warn, $($args)*) };
}

#[macro_export]
macro_rules! tf_error {
    ($($args:tt)*) => { $crate::tf_log!($crate::protocol::log::Level::Error, $($args)*) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn lines_are_hclog_json() {
        let ts: jiff::Timestamp = "2026-11-23T10:00:00.5Z".parse().unwrap();
        let line =
            format_line(Level::Debug, "called", &[("rpc", field("PlanResourceChange")), ("millis", field(&3))], ts);
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["@level"], "debug");
        assert_eq!(parsed["@message"], "called");
        assert_eq!(parsed["@module"], MODULE);
        assert_eq!(parsed["@timestamp"], "2026-11-23T10:00:00.500000Z");
        assert_eq!(parsed["rpc"], "PlanResourceChange");
        assert_eq!(parsed["millis"], 3);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn null_fields_are_left_out() {
        let line = format_line(Level::Info, "m", &[("type_name", field(&None::<&str>))], jiff::Timestamp::UNIX_EPOCH);
        assert!(!line.contains("type_name"));
    }

    #[test]
    fn fields_cannot_overwrite_the_reserved_keys() {
        let line = format_line(Level::Info, "m", &[("@level", field("error"))], jiff::Timestamp::UNIX_EPOCH);
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["@level"], "info");
    }

    #[test]
    fn provider_level_wins_over_the_general_one() {
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            move |name: &str| map.get(name).cloned()
        };
        assert_eq!(level_from_env(env(&[])), DEFAULT_LEVEL);
        assert_eq!(level_from_env(env(&[("TF_LOG", "debug")])), Level::Debug);
        assert_eq!(level_from_env(env(&[("TF_LOG", "DEBUG"), ("TF_LOG_PROVIDER", "error")])), Level::Error);
        assert_eq!(level_from_env(env(&[("TF_LOG", "JSON")])), Level::Trace);
        assert_eq!(level_from_env(env(&[("TF_LOG_PROVIDER", "bogus"), ("TF_LOG", "info")])), Level::Info);
        assert_eq!(level_from_env(env(&[("TF_LOG", "off")])), Level::Off);
    }

    #[test]
    fn off_disables_everything() {
        assert!(!enabled(Level::Off));
    }
}
