//! HTTPS on the API's port (`LOTTERY_TLS_CERT`, `LOTTERY_TLS_KEY`): what a
//! cluster's instances need to talk over TLS (issue 24, finding 4), and
//! what lets an instance face a network without a terminating proxy. Keys
//! and certificates are PEM files; ring is the provider (reqwest's too).
//! Also what a client of a backing service is given to speak TLS to it
//! (`ClientTls`: MySQL, Redis, etcd).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// TLS to a backing service, as read from its settings
/// (`config::client_tls`): the CA its certificate must chain to, and this
/// client's certificate for a server that asks for one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM: the CAs the server's certificate must chain to; None: the
    /// client's usual roots.
    pub ca: Option<Vec<u8>>,
    /// PEM: this client's certificate chain and private key.
    pub identity: Option<Identity>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// Never prints a key, nor a certificate's bytes.
impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca", &self.ca.as_ref().map(|_| "<pem>"))
            .field("identity", &self.identity.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The server's TLS configuration from its certificate chain and key.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("LOTTERY_TLS_CERT {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("LOTTERY_TLS_CERT {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "LOTTERY_TLS_CERT {}: no certificate in it",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("LOTTERY_TLS_KEY {}: {e}", key.display()))?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("LOTTERY_TLS_CERT / LOTTERY_TLS_KEY: {e}"))?;
    // HTTP/1.1 only: the server speaks nothing else.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The CA bundle a forwarding instance trusts (`LOTTERY_CLUSTER_CA`).
pub fn trusted_roots(ca: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(ca).map_err(|e| format!("LOTTERY_CLUSTER_CA {}: {e}", ca.display()))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("LOTTERY_CLUSTER_CA {}: {e}", ca.display()))?;
    if roots.is_empty() {
        return Err(format!(
            "LOTTERY_CLUSTER_CA {}: no certificate in it",
            ca.display()
        ));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_or_empty_files_are_named() {
        let missing = Path::new("/nonexistent/lottery-cert.pem");
        let err = server_config(missing, missing).unwrap_err();
        assert!(err.contains("LOTTERY_TLS_CERT"), "{err}");
        let empty = std::env::temp_dir().join(format!("lottery-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "").unwrap();
        let err = server_config(&empty, &empty).unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
        let err = trusted_roots(&empty).unwrap_err();
        assert!(err.contains("LOTTERY_CLUSTER_CA"), "{err}");
        let _ = std::fs::remove_file(&empty);
    }
}
