//! go-plugin's AutoMTLS: Terraform passes its client certificate in `PLUGIN_CLIENT_CERT`; the
//! plugin makes a throwaway self-signed server certificate, announces it in the handshake line,
//! and accepts only connections that present exactly Terraform's certificate.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// HTTP/2, which Terraform's gRPC client insists on negotiating.
pub const ALPN_H2: &[u8] = b"h2";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("PLUGIN_CLIENT_CERT holds no PEM certificate")]
    NoClientCertificate,
    #[error("PLUGIN_CLIENT_CERT is not valid PEM: {0}")]
    InvalidPem(String),
    #[error("could not create the server certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("could not build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Makes aws-lc-rs the process-wide rustls provider. Must run before anything builds a TLS
/// configuration: with more than one provider compiled in and none installed, rustls panics
/// (kube and the AWS SDK build theirs later in the same process). Installing twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// A certificate with its private key.
pub struct Identity {
    pub cert: CertificateDer<'static>,
    pub key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// A self-signed P-256 certificate for `localhost`, shaped like go-plugin's own (it serves as
    /// its own CA on the client side, and may authenticate either end).
    pub fn generate() -> Result<Identity, TlsError> {
        use rcgen::{BasicConstraints, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose};
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.distinguished_name.push(DnType::OrganizationName, "gitopsbridge plugin");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::KeyCertSign];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.self_signed(&key_pair)?;
        Ok(Identity { cert: cert.der().clone(), key: PrivatePkcs8KeyDer::from(key_pair.serialize_der()) })
    }

    pub fn cert_pem(&self) -> String {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(self.cert.as_ref());
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// The certificates in a PEM text.
pub fn parse_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::InvalidPem(e.to_string()))?;
    if certs.is_empty() { Err(TlsError::NoClientCertificate) } else { Ok(certs) }
}

/// The server side: our identity, TLS 1.2+, ALPN h2, and only `client_cert_pem`'s
/// certificate(s) accepted from clients.
pub fn server_config(identity: &Identity, client_cert_pem: &str) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let verifier = PinnedCertificates::new(parse_certificates(client_cert_pem)?);
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(vec![identity.cert.clone()], identity.key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The client side, as Terraform does it: present `identity`, trust only `server_cert`.
/// Used by tests and tools that talk to the plugin.
pub fn client_config(
    identity: &Identity,
    server_cert: CertificateDer<'static>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let verifier = PinnedCertificates::new(vec![server_cert]);
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(vec![identity.cert.clone()], identity.key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// Accepts a peer only if its end-entity certificate is byte-for-byte one of the expected ones;
/// the handshake signature is still checked against that certificate's key, which proves the
/// peer holds the private key.
#[derive(Debug)]
pub struct PinnedCertificates {
    expected: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedCertificates {
    pub fn new(expected: Vec<CertificateDer<'static>>) -> Self {
        PinnedCertificates { expected, algorithms: provider().signature_verification_algorithms }
    }

    fn check(&self, presented: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if self.expected.iter().any(|cert| cert.as_ref() == presented.as_ref()) {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
        }
    }
}

/// The handshake-signature half of both verifier traits: identical for either end, since the
/// peer's key is whatever its pinned certificate holds.
macro_rules! handshake_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl ClientCertVerifier for PinnedCertificates {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity).map(|()| ClientCertVerified::assertion())
    }

    handshake_signature_checks!();
}

impl ServerCertVerifier for PinnedCertificates {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity).map(|()| ServerCertVerified::assertion())
    }

    handshake_signature_checks!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn handshake(server_identity: &Identity, trusted_client: &Identity, presented_client: &Identity) -> bool {
        install_crypto_provider();
        let server =
            tokio_rustls::TlsAcceptor::from(server_config(server_identity, &trusted_client.cert_pem()).unwrap());
        let client =
            tokio_rustls::TlsConnector::from(client_config(presented_client, server_identity.cert.clone()).unwrap());
        let (a, b) = tokio::io::duplex(64 * 1024);
        let serving = tokio::spawn(async move {
            let mut stream = server.accept(a).await.ok()?;
            let mut buf = [0u8; 2];
            stream.read_exact(&mut buf).await.ok()?;
            Some(stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
        });
        let name = ServerName::try_from("localhost").unwrap();
        // Kept open until the server is done: TLS 1.3 servers write after the handshake.
        let _client_stream = match client.connect(name, b).await {
            Ok(mut stream) => {
                let _ = stream.write_all(b"hi").await;
                let _ = stream.flush().await;
                Some(stream)
            }
            Err(_) => None,
        };
        match serving.await.unwrap() {
            Some(alpn) => {
                assert_eq!(alpn.as_deref(), Some(ALPN_H2));
                true
            }
            None => false,
        }
    }

    #[tokio::test]
    async fn only_the_announced_client_certificate_is_accepted() {
        let server = Identity::generate().unwrap();
        let terraform = Identity::generate().unwrap();
        let stranger = Identity::generate().unwrap();
        assert!(handshake(&server, &terraform, &terraform).await);
        assert!(!handshake(&server, &terraform, &stranger).await);
    }

    #[test]
    fn pem_round_trips_and_garbage_is_refused() {
        let identity = Identity::generate().unwrap();
        assert_eq!(parse_certificates(&identity.cert_pem()).unwrap(), vec![identity.cert.clone()]);
        assert!(matches!(parse_certificates("no pem here"), Err(TlsError::NoClientCertificate)));
    }
}
