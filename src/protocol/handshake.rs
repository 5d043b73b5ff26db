//! go-plugin's start-up contract: Terraform starts the binary with a magic cookie and a few
//! `PLUGIN_*` variables, and the plugin answers with one line on stdout saying where it listens.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine;

pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// go-plugin's own protocol version (the first field of the line).
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol major version we speak.
pub const APP_PROTOCOL_VERSION: u32 = 6;

/// Set to `tcp` to listen on 127.0.0.1 instead of a unix socket.
pub const TRANSPORT_KEY: &str = "GITOPSBRIDGE_PLUGIN_TRANSPORT";

/// Shown when someone runs the binary by hand.
pub const NOT_A_PROGRAM: &str = "\
This is a Terraform provider plugin, not a program to run by hand. Terraform starts it itself
when a configuration uses the gitopsbridge provider: run `terraform init` and `terraform plan`
(or `apply`) in such a configuration instead.";

/// Where and how to listen, from the environment Terraform sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub transport: Transport,
    /// `PLUGIN_CLIENT_CERT`: the PEM certificate Terraform will present (AutoMTLS).
    pub client_cert_pem: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A unix socket in this directory (what go-plugin uses on Linux), or TCP on these ports if
    /// no socket can be created there.
    Unix { dir: PathBuf, tcp_fallback: (u16, u16) },
    /// A TCP port on 127.0.0.1 within this inclusive range.
    Tcp { min_port: u16, max_port: u16 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    #[error("{NOT_A_PROGRAM}")]
    NotStartedByTerraform,
    #[error(
        "Terraform offered plugin protocol versions {offered:?}, but this provider speaks only version \
         {APP_PROTOCOL_VERSION} (Terraform 1.0 and later). Upgrade Terraform."
    )]
    NoCommonProtocol { offered: String },
    #[error("{name} is not a valid port number: {value:?}")]
    InvalidPort { name: &'static str, value: String },
    #[error("the port range {min}-{max} is empty")]
    EmptyPortRange { min: u16, max: u16 },
}

/// Reads the settings through `get` (the process environment in production, a map in tests).
pub fn settings_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Settings, HandshakeError> {
    if get(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::NotStartedByTerraform);
    }
    if let Some(offered) = get("PLUGIN_PROTOCOL_VERSIONS").filter(|v| !v.trim().is_empty()) {
        let speaks_ours = offered.split(',').any(|v| v.trim().parse::<u32>() == Ok(APP_PROTOCOL_VERSION));
        if !speaks_ours {
            return Err(HandshakeError::NoCommonProtocol { offered });
        }
    }
    let min_port = port(&get, "PLUGIN_MIN_PORT", 10000)?;
    let max_port = port(&get, "PLUGIN_MAX_PORT", 25000)?;
    if min_port > max_port {
        return Err(HandshakeError::EmptyPortRange { min: min_port, max: max_port });
    }
    let wants_tcp = get(TRANSPORT_KEY).is_some_and(|v| v.trim().eq_ignore_ascii_case("tcp"));
    let transport = if wants_tcp {
        Transport::Tcp { min_port, max_port }
    } else {
        let dir = get("PLUGIN_UNIX_SOCKET_DIR").filter(|d| !d.is_empty()).map(PathBuf::from);
        Transport::Unix { dir: dir.unwrap_or_else(std::env::temp_dir), tcp_fallback: (min_port, max_port) }
    };
    let client_cert_pem = get("PLUGIN_CLIENT_CERT").filter(|pem| !pem.trim().is_empty());
    Ok(Settings { transport, client_cert_pem })
}

fn port(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: u16) -> Result<u16, HandshakeError> {
    match get(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| HandshakeError::InvalidPort { name, value }),
    }
}

/// Where the server listens, as the handshake line names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix|{}", path.display()),
            Address::Tcp(addr) => write!(f, "tcp|{addr}"),
        }
    }
}

/// The line go-plugin reads from our stdout:
/// `CORE|APP|NETWORK|ADDRESS|grpc|CERT`, the certificate as unpadded base64 of its DER (the
/// field is empty without AutoMTLS).
pub fn handshake_line(address: &Address, server_cert_der: Option<&[u8]>) -> String {
    let cert =
        server_cert_der.map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der)).unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{address}|grpc|{cert}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.entry(MAGIC_COOKIE_KEY.to_string()).or_insert_with(|| MAGIC_COOKIE_VALUE.to_string());
        map.retain(|_, v| v != "<unset>");
        move |name| map.get(name).cloned()
    }

    #[test]
    fn without_the_cookie_it_is_not_a_plugin_run() {
        assert_eq!(
            settings_from_env(env(&[(MAGIC_COOKIE_KEY, "<unset>")])),
            Err(HandshakeError::NotStartedByTerraform)
        );
        assert_eq!(settings_from_env(env(&[(MAGIC_COOKIE_KEY, "wrong")])), Err(HandshakeError::NotStartedByTerraform));
        assert!(HandshakeError::NotStartedByTerraform.to_string().contains("not a program to run by hand"));
    }

    #[test]
    fn protocol_versions_must_include_six() {
        assert!(settings_from_env(env(&[("PLUGIN_PROTOCOL_VERSIONS", "5,6")])).is_ok());
        assert!(settings_from_env(env(&[("PLUGIN_PROTOCOL_VERSIONS", "6")])).is_ok());
        assert!(settings_from_env(env(&[])).is_ok());
        let err = settings_from_env(env(&[("PLUGIN_PROTOCOL_VERSIONS", "4,5")])).unwrap_err();
        assert_eq!(err, HandshakeError::NoCommonProtocol { offered: "4,5".into() });
        assert!(err.to_string().contains("speaks only version 6"));
    }

    #[test]
    fn unix_socket_dir_comes_from_the_environment() {
        let s =
            settings_from_env(env(&[("PLUGIN_UNIX_SOCKET_DIR", "/run/tf"), ("PLUGIN_CLIENT_CERT", "PEM")])).unwrap();
        assert_eq!(s.transport, Transport::Unix { dir: PathBuf::from("/run/tf"), tcp_fallback: (10000, 25000) });
        assert_eq!(s.client_cert_pem.as_deref(), Some("PEM"));
        let s = settings_from_env(env(&[])).unwrap();
        assert_eq!(s.transport, Transport::Unix { dir: std::env::temp_dir(), tcp_fallback: (10000, 25000) });
        assert_eq!(s.client_cert_pem, None);
    }

    #[test]
    fn tcp_uses_the_port_range() {
        let s = settings_from_env(env(&[
            (TRANSPORT_KEY, "tcp"),
            ("PLUGIN_MIN_PORT", "12000"),
            ("PLUGIN_MAX_PORT", "12010"),
        ]))
        .unwrap();
        assert_eq!(s.transport, Transport::Tcp { min_port: 12000, max_port: 12010 });
        let s = settings_from_env(env(&[(TRANSPORT_KEY, "TCP")])).unwrap();
        assert_eq!(s.transport, Transport::Tcp { min_port: 10000, max_port: 25000 });
        assert!(matches!(
            settings_from_env(env(&[(TRANSPORT_KEY, "tcp"), ("PLUGIN_MIN_PORT", "x")])),
            Err(HandshakeError::InvalidPort { name: "PLUGIN_MIN_PORT", .. })
        ));
        assert!(matches!(
            settings_from_env(env(&[(TRANSPORT_KEY, "tcp"), ("PLUGIN_MIN_PORT", "9"), ("PLUGIN_MAX_PORT", "8")])),
            Err(HandshakeError::EmptyPortRange { .. })
        ));
    }

    #[test]
    fn handshake_lines() {
        let unix = Address::Unix(PathBuf::from("/tmp/plugin1"));
        assert_eq!(handshake_line(&unix, None), "1|6|unix|/tmp/plugin1|grpc|");
        let tcp = Address::Tcp("127.0.0.1:10001".parse().unwrap());
        // base64 of [1, 2, 3, 4] is "AQIDBA==": the padding is dropped.
        assert_eq!(handshake_line(&tcp, Some(&[1, 2, 3, 4])), "1|6|tcp|127.0.0.1:10001|grpc|AQIDBA");
    }
}
