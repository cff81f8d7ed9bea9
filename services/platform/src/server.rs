//! The gRPC server every component runs: health, reflection, limits and graceful shutdown.
//!
//! A service crate adds its tonic service to a [`GrpcServices`]; the binary serves the result
//! on an already bound listener (port 0 in tests) until a shutdown future resolves. On shutdown
//! the server reports NOT_SERVING for readiness and every service, keeps serving for
//! `drain_delay_secs` so load balancers notice, stops accepting, then waits up to
//! `shutdown_grace_secs` for in-flight calls before closing.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::ServerConfig;

/// The health service name that is SERVING while the process is alive (liveness probes).
pub const LIVENESS: &str = "liveness";
/// The health service name that is SERVING while the process can do its work (readiness).
pub const READINESS: &str = "readiness";

/// Handle to a server's health: services report dependency trouble through it.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    names: Vec<String>,
}

impl Health {
    /// Sets readiness and every registered service name to `serving` or not.
    pub async fn set_ready(&self, serving: bool) {
        let status = if serving { ServingStatus::Serving } else { ServingStatus::NotServing };
        self.reporter.set_service_status(READINESS, status).await;
        self.reporter.set_service_status("", status).await;
        for name in &self.names {
            self.reporter.set_service_status(name, status).await;
        }
    }

    /// Sets one service name's status (the gateway mirrors its upstreams this way).
    pub async fn set_service(&self, name: &str, serving: bool) {
        let status = if serving { ServingStatus::Serving } else { ServingStatus::NotServing };
        self.reporter.set_service_status(name, status).await;
    }
}

/// The set of gRPC services one process serves, with health and reflection.
pub struct GrpcServices {
    routes: tonic::service::RoutesBuilder,
    names: Vec<String>,
    reporter: HealthReporter,
}

impl GrpcServices {
    /// Health is always served; reflection (v1 and v1alpha, so grpcurl and ghz both work) when
    /// `config.reflection` is on. Reflection also serves `google/rpc/status.proto` and
    /// `google/rpc/error_details.proto`, so grpcurl decodes the `ErrorInfo`, `BadRequest` …
    /// every error carries instead of printing them as base64.
    pub fn new(config: &ServerConfig) -> Result<Self, tonic_reflection::server::Error> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let mut routes = Routes::builder();
        routes.add_service(health_service);
        if config.reflection {
            let v1 = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(kaigo_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
                .build_v1()?;
            let v1alpha = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(kaigo_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
                .build_v1alpha()?;
            routes.add_service(v1);
            routes.add_service(v1alpha);
        }
        Ok(Self { routes, names: Vec::new(), reporter })
    }

    /// Adds a generated tonic server; its name is reported by health once serving. Every call
    /// to it gets a server span and the RPC duration metric
    /// ([`crate::telemetry::rpc::Observed`]).
    pub fn with_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME.to_owned());
        self.routes.add_service(crate::telemetry::rpc::Observed::new(service));
        self
    }

    /// Registers a name for health reporting without a local service (the gateway reports the
    /// services it routes to).
    pub fn report_name(mut self, name: &str) -> Self {
        self.names.push(name.to_owned());
        self
    }

    /// The health handle; services start NOT_SERVING until [`Health::set_ready`].
    pub fn health(&self) -> Health {
        Health { reporter: self.reporter.clone(), names: self.names.clone() }
    }

    /// The routes, to serve or to wrap in further layers.
    pub fn into_routes(self) -> Routes {
        self.routes.routes()
    }
}

/// Binds a listener; `127.0.0.1:0` picks a free port.
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let addr: SocketAddr = addr.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    TcpListener::bind(addr).await
}

/// The HTTP/2 header block a server decodes (SETTINGS_MAX_HEADER_LIST_SIZE).
pub const MAX_HEADER_LIST_BYTES: u32 = 1024 * 1024;

/// What one stream may send before its handler reads (hyper's default).
const STREAM_WINDOW_BYTES: u32 = 1024 * 1024;
/// What all of a connection's streams may: eight streams' windows, so that a slow reader cannot
/// hold the others back.
const CONNECTION_WINDOW_BYTES: u32 = 8 * STREAM_WINDOW_BYTES;

/// How a listener is served beyond [`ServerConfig`]: what only the gateway needs.
#[derive(Default)]
pub struct ServeOptions {
    /// Also accept HTTP/1.1 (browsers' gRPC-Web and the web screens' files); services speak
    /// HTTP/2 only.
    pub accept_http1: bool,
    /// Terminate TLS (optionally requiring client certificates).
    pub tls: Option<tonic::transport::ServerTlsConfig>,
}

/// Serves `service` (routes, possibly wrapped in layers) on `listener` until `shutdown`
/// resolves, then drains as described in the module docs.
pub async fn serve<S, F>(
    listener: TcpListener,
    service: S,
    health: Health,
    config: &ServerConfig,
    shutdown: F,
) -> Result<(), tonic::transport::Error>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    F: Future<Output = ()> + Send,
{
    serve_with(listener, service, health, config, ServeOptions::default(), shutdown).await
}

/// [`serve`] with HTTP/1.1 or TLS: the same limits and the same drain sequence.
pub async fn serve_with<S, F>(
    listener: TcpListener,
    service: S,
    health: Health,
    config: &ServerConfig,
    options: ServeOptions,
    shutdown: F,
) -> Result<(), tonic::transport::Error>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    F: Future<Output = ()> + Send,
{
    let local = listener.local_addr().ok();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let drain_delay = Duration::from_secs(config.drain_delay_secs);
    let grace = config.shutdown_grace();

    health.reporter.set_service_status(LIVENESS, ServingStatus::Serving).await;
    health.set_ready(true).await;
    // The runtime's threads (server.worker_threads) decide what a call costs below saturation
    // (docs/capacity.md): say what this process runs with.
    let worker_threads = tokio::runtime::Handle::current().metrics().num_workers();
    tracing::info!(listen = ?local, services = ?health.names, tls = options.tls.is_some(), worker_threads, "serving gRPC");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (closing_tx, closing_rx) = tokio::sync::oneshot::channel::<()>();
    let health_for_shutdown = health.clone();
    let watcher = async move {
        shutdown.await;
        tracing::info!(drain_delay_secs = drain_delay.as_secs(), "shutdown requested; reporting NOT_SERVING");
        health_for_shutdown.set_ready(false).await;
        tokio::time::sleep(drain_delay).await;
        let _ = closing_tx.send(());
        let _ = stop_tx.send(());
    };

    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = options.tls {
        builder = builder.tls_config(tls)?;
    }
    let server = builder
        .accept_http1(options.accept_http1)
        .concurrency_limit_per_connection(config.concurrency_per_connection)
        .max_connection_age(Duration::from_secs(config.max_connection_age_secs))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        // h2 closes the whole connection (GOAWAY) when a header block outgrows this limit by
        // more than a few frames, failing every call sharing it. hyper's default (16 KiB) lets
        // one 100 KB header do that; at 1 MiB such a call is decoded and answered alone (the
        // gateway refuses headers over its own, smaller limit with RESOURCE_EXHAUSTED).
        .http2_max_header_list_size(Some(MAX_HEADER_LIST_BYTES))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        // A stream whose handler reads slowly — an import's chunks wait while the previous
        // chunk's transaction runs — fills its stream window with unread data. hyper's defaults
        // give the connection no more window than one stream (1 MiB each), so that one stream
        // held back every other call on the connection: checks beside an import that changed
        // every person stalled for seconds at a time (loadtest/README.md#import-under-load).
        // The connection's window is now eight streams' worth.
        .initial_stream_window_size(Some(STREAM_WINDOW_BYTES))
        .initial_connection_window_size(Some(CONNECTION_WINDOW_BYTES))
        .serve_with_incoming_shutdown(service, incoming, async move {
            let _ = stop_rx.await;
        });

    tokio::pin!(server);
    let grace_timer = async move {
        if closing_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = &mut server => result,
        () = async { tokio::join!(watcher, grace_timer); } => {
            tracing::warn!(grace_secs = grace.as_secs(), "in-flight calls still open after the grace period; closing");
            Ok(())
        }
    };
    tracing::info!("gRPC server stopped");
    result
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
