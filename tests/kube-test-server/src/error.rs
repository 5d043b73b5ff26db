//! Errors of starting and controlling the server (not API errors: those are
//! `status::ApiError`, sent to clients as `Status` bodies).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("invalid CustomResourceDefinition: {0}")]
    Crd(String),
    #[error("cannot build the TLS certificate: {0}")]
    Tls(String),
    #[error("invalid RBAC rules: {0}")]
    Rbac(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
