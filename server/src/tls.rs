//! RTSPS: RTSP over TLS (rustls), on its own port (8322 by default, as gst-rtsp-server and
//! MediaMTX use), with media interleaved on the TLS connection (what ffmpeg does for
//! `rtsps://`). The driver owns the TLS state of each connection; the core sees plaintext.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The default RTSPS port.
pub const DEFAULT_PORT: u16 = 8322;
/// Ciphertext a connection may have waiting for its socket before the core's output waits.
pub const SEND_BUFFER: usize = 4 << 20;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file.
    #[error("{path}: {error}")]
    Certificate {
        /// The file.
        path: String,
        /// What is wrong.
        error: String,
    },
    /// The key file.
    #[error("{path}: {error}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        error: String,
    },
    /// rustls refused the pair.
    #[error("certificate and key: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS server configuration from a PEM certificate chain and its PEM private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certificate = |error: String| TlsError::Certificate {
        path: cert.display().to_string(),
        error,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| certificate(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(certificate("no certificate in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        error: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}
