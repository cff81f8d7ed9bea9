//! The gateway's TLS settings, optionally with client certificates (mutual TLS).
//!
//! The platform's server terminates TLS with them ([`kaigo_platform::server::ServeOptions`]),
//! with the same limits and drain sequence as every component; with
//! `gateway.tls.client_ca_file` it requires a client certificate that chains to that CA, and
//! the layers then read the certificate from the connection.
//!
//! The gauge `kaigo.tls.certificate.expiry` (seconds until the certificate's notAfter, by
//! `certificate`: `server` or `client_ca`) lets an alert fire before the material expires.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::ObservableGauge;
use parking_lot::Mutex;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use x509_cert::der::Decode;

use crate::config::TlsConfig;

/// The TLS settings of `gateway.tls`, or `None` when TLS is off.
pub fn server_tls(config: &TlsConfig) -> Result<Option<ServerTlsConfig>, String> {
    if !config.enabled() {
        return Ok(None);
    }
    let read = |key: &str, path: &str| std::fs::read(path).map_err(|e| format!("gateway.tls.{key}: {path}: {e}"));
    let cert = read("cert_file", &config.cert_file)?;
    watch_expiry("server", &cert);
    let identity = Identity::from_pem(cert, read("key_file", &config.key_file)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if !config.client_ca_file.is_empty() {
        let ca = read("client_ca_file", &config.client_ca_file)?;
        watch_expiry("client_ca", &ca);
        tls = tls.client_ca_root(Certificate::from_pem(ca));
    }
    Ok(Some(tls))
}

/// The notAfter (Unix seconds) of the certificate that expires first in a PEM bundle.
fn not_after(pem: &[u8]) -> Option<i64> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .filter_map(|der| x509_cert::Certificate::from_der(&der).ok())
        .map(|cert| {
            i64::try_from(cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        })
        .min()
}

/// The certificates whose expiry the gauge reports: (which, notAfter in Unix seconds).
fn watched() -> &'static Mutex<Vec<(&'static str, i64)>> {
    static WATCHED: OnceLock<Mutex<Vec<(&'static str, i64)>>> = OnceLock::new();
    WATCHED.get_or_init(|| Mutex::new(Vec::new()))
}

/// Reports `which`'s expiry in `kaigo.tls.certificate.expiry` from now on.
fn watch_expiry(which: &'static str, pem: &[u8]) {
    static GAUGE: OnceLock<ObservableGauge<i64>> = OnceLock::new();
    let Some(not_after) = not_after(pem) else { return };
    {
        let mut watched = watched().lock();
        watched.retain(|(w, _)| *w != which);
        watched.push((which, not_after));
    }
    GAUGE.get_or_init(|| {
        opentelemetry::global::meter("kaigo-gateway")
            .i64_observable_gauge("kaigo.tls.certificate.expiry")
            .with_unit("s")
            .with_description("seconds until the gateway's TLS certificate (or client CA) expires")
            .with_callback(|observer| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                for (which, not_after) in watched().lock().iter() {
                    observer.observe(not_after - now, &[KeyValue::new("certificate", *which)]);
                }
            })
            .build()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_expiry_of_a_bundle_is_read_from_its_pem() {
        let cert = |year| {
            let mut params = rcgen::CertificateParams::new(vec!["kaigo.test".to_owned()]).unwrap();
            params.not_after = rcgen::date_time_ymd(year, 1, 1);
            params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
        };
        // 2030-01-01T00:00:00Z and 2031-01-01T00:00:00Z.
        assert_eq!(not_after(cert(2030).as_bytes()), Some(1_893_456_000));
        let bundle = format!("{}{}", cert(2031), cert(2030));
        assert_eq!(not_after(bundle.as_bytes()), Some(1_893_456_000));
        assert_eq!(not_after(b"not a certificate"), None);
    }
}
