//! A throwaway CA and a serving certificate for `127.0.0.1` and `localhost`,
//! generated at start, so clients verify the server exactly as they would a
//! cluster's API endpoint (no "insecure" switch needed).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::Error;

pub struct Identity {
    pub ca_pem: String,
    pub config: Arc<ServerConfig>,
}

fn tls_error(e: impl std::fmt::Display) -> Error {
    Error::Tls(e.to_string())
}

/// rustls needs a process-wide crypto provider; the workspace uses aws-lc-rs.
pub fn install_crypto_provider() {
    // Fails only when one is installed already, which is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

pub fn generate() -> Result<Identity, Error> {
    install_crypto_provider();

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
    ca_params.distinguished_name.push(DnType::CommonName, "kube-test-server CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().map_err(tls_error)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_error)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).map_err(tls_error)?;
    leaf_params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(tls_error)?;
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(tls_error)?;

    let chain = vec![leaf_cert.der().clone(), CertificateDer::from(ca_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut config = ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).map_err(tls_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Identity { ca_pem: ca_cert.pem(), config: Arc::new(config) })
}
