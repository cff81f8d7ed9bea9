//! The gateway's TLS settings, optionally with client certificates (mutual TLS).
//!
//! The platform's server terminates TLS with them ([`kaigo_platform::server::ServeOptions`]),
//! with the same limits and drain sequence as every component; with
//! `gateway.tls.client_ca_file` it requires a client certificate that chains to that CA, and
//! the layers then read the certificate from the connection.

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::config::TlsConfig;

/// The TLS settings of `gateway.tls`, or `None` when TLS is off.
pub fn server_tls(config: &TlsConfig) -> Result<Option<ServerTlsConfig>, String> {
    if !config.enabled() {
        return Ok(None);
    }
    let read = |key: &str, path: &str| std::fs::read(path).map_err(|e| format!("gateway.tls.{key}: {path}: {e}"));
    let identity = Identity::from_pem(read("cert_file", &config.cert_file)?, read("key_file", &config.key_file)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if !config.client_ca_file.is_empty() {
        tls = tls.client_ca_root(Certificate::from_pem(read("client_ca_file", &config.client_ca_file)?));
    }
    Ok(Some(tls))
}
