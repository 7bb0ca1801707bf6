//! `rtsps://`: RTSP over TLS (rustls) to the server, media interleaved on the connection.
//! The server's certificate is checked against `--ca FILE`, or the system's trusted roots
//! (Debian's `/etc/ssl/certs/ca-certificates.crt`), or — with `--insecure`, for a self-signed
//! test server — not at all.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;

use crate::error::Error;

/// The system's trusted roots (Debian's bundle).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Against the system's roots.
    System,
    /// Against the certificates in this PEM file.
    Ca(std::path::PathBuf),
    /// Not at all (a self-signed test server).
    Insecure,
}

/// A TLS client connection to `host` checked as `trust` says.
pub fn connect(host: &str, trust: &Trust) -> Result<ClientConnection, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth(),
        Trust::System => builder
            .with_root_certificates(roots(Path::new(SYSTEM_ROOTS))?)
            .with_no_client_auth(),
        Trust::Ca(path) => builder
            .with_root_certificates(roots(path)?)
            .with_no_client_auth(),
    };
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .map_err(|e| Error::Tls(format!("{host}: {e}")))?;
    ClientConnection::new(Arc::new(config), name).map_err(|e| Error::Tls(e.to_string()))
}

/// The certificates of a PEM file, as trusted roots.
fn roots(path: &Path) -> Result<RootCertStore, Error> {
    let bad = |e: String| Error::Tls(format!("{}: {e}", path.display()));
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        store.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(store)
}

/// `--insecure`: any certificate is taken (signatures are still checked, so the handshake is
/// sound; only who the server is goes unchecked).
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
