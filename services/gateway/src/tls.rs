//! Serving the gateway, optionally over TLS with client certificates (mutual TLS).
//!
//! Without `gateway.tls` the gateway is served by the platform's server (h2c, as every
//! component). With it, the same limits and drain sequence apply, on a tonic server that
//! terminates TLS and, with `gateway.tls.client_ca_file`, requires a client certificate that
//! chains to that CA; the layers then read the certificate from the connection.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use kaigo_platform::config::ServerConfig;
use kaigo_platform::server::Health;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::transport::server::TcpIncoming;
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

/// Serves `service` on `listener` until `shutdown`, over TLS when `tls` is given.
pub async fn serve<S, F>(
    listener: TcpListener,
    service: S,
    health: Health,
    config: &ServerConfig,
    tls: Option<ServerTlsConfig>,
    shutdown: F,
) -> Result<(), String>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    F: Future<Output = ()> + Send,
{
    let Some(tls) = tls else {
        return kaigo_platform::server::serve(listener, service, health, config, shutdown)
            .await
            .map_err(|e| e.to_string());
    };
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    health.set_service(kaigo_platform::server::LIVENESS, true).await;
    health.set_ready(true).await;
    tracing::info!("serving gRPC over TLS");
    let drain_delay = Duration::from_secs(config.drain_delay_secs);
    let grace = config.shutdown_grace();
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let stopping = async move {
        shutdown.await;
        health.set_ready(false).await;
        tokio::time::sleep(drain_delay).await;
        let _ = stopped_tx.send(());
    };
    let server = tonic::transport::Server::builder()
        .tls_config(tls)
        .map_err(|e| format!("gateway.tls: {e}"))?
        .concurrency_limit_per_connection(config.concurrency_per_connection)
        .max_connection_age(Duration::from_secs(config.max_connection_age_secs))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .serve_with_incoming_shutdown(service, incoming, async move {
            let _ = stopped_rx.await;
        });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result.map_err(|e| e.to_string()),
        () = stopping => {
            // Stop accepting; in-flight calls get the grace period.
            match tokio::time::timeout(grace, &mut server).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => {
                    tracing::warn!("in-flight calls still open after the grace period; closing");
                    Ok(())
                }
            }
        }
    }
}
