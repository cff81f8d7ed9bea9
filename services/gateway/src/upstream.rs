//! Where a service's calls go: in-process routes (`kaigo dev`) or the service's replicas.
//!
//! A remote upstream is a URL whose host may resolve to many pod addresses (a headless
//! Service). Calls are balanced per request, round robin, over one multiplexed HTTP/2
//! connection per address; the name is re-resolved periodically, and an address whose
//! connection fails is ejected for a while and then tried again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use parking_lot::RwLock;
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;

/// How long a failed address sits out before it is tried again.
const EJECTION: Duration = Duration::from_secs(5);

/// One service's destination.
#[derive(Clone)]
pub enum Upstream {
    /// The service runs in this process (`kaigo dev`): its routes, with whatever layers the
    /// process puts around them (caller verification).
    Local(LocalService),
    /// The service's replicas, over the network.
    Remote(Box<RemoteUpstream>),
}

/// An in-process service as the gateway calls it.
pub type LocalService =
    BoxCloneSyncService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, std::convert::Infallible>;

#[derive(Debug, Clone)]
struct Endpoint {
    addr: SocketAddr,
    /// `addr` as a URI authority, built once rather than formatted per call.
    authority: http::uri::Authority,
    ejected_until: Option<Instant>,
}

impl Endpoint {
    fn new(addr: SocketAddr, ejected_until: Option<Instant>) -> Self {
        // A socket address always reads as an authority; the fallback is never taken.
        let authority = http::uri::Authority::try_from(addr.to_string())
            .unwrap_or_else(|_| http::uri::Authority::from_static("invalid"));
        Self { addr, authority, ejected_until }
    }
}

/// A balanced set of replica addresses behind one DNS name.
#[derive(Clone)]
pub struct RemoteUpstream {
    /// The name to re-resolve; `None` for a fixed address list.
    host: Option<String>,
    port: u16,
    endpoints: Arc<RwLock<Vec<Endpoint>>>,
    next: Arc<AtomicUsize>,
    /// Several HTTP/2 clients, each keeping its own connection per address: one connection
    /// serialises framing on one task at each end, so calls are spread over a few.
    clients: Arc<Vec<Client<HttpConnector, tonic::body::Body>>>,
    next_client: Arc<AtomicUsize>,
}

impl std::fmt::Debug for RemoteUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteUpstream").field("host", &self.host).field("port", &self.port).finish_non_exhaustive()
    }
}

impl RemoteUpstream {
    /// An upstream for `url` (`http://host:port`); call [`RemoteUpstream::resolve`] before use.
    pub fn new(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("{url} is not a URL"))?;
        let host = uri.host().ok_or_else(|| format!("{url} has no host"))?.to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let clients = Arc::new((0..CONNECTIONS_PER_ADDRESS).map(|_| h2_client()).collect());
        Ok(Self {
            host: Some(host),
            port,
            endpoints: Arc::new(RwLock::new(Vec::new())),
            next: Arc::new(AtomicUsize::new(0)),
            clients,
            next_client: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// An upstream over a fixed list of replica addresses (no DNS), balanced and ejected like
    /// a resolved name.
    pub fn from_addresses(addrs: &[SocketAddr]) -> Self {
        let endpoints = addrs.iter().map(|&addr| Endpoint::new(addr, None)).collect();
        Self {
            host: None,
            port: 0,
            endpoints: Arc::new(RwLock::new(endpoints)),
            next: Arc::new(AtomicUsize::new(0)),
            clients: Arc::new((0..CONNECTIONS_PER_ADDRESS).map(|_| h2_client()).collect()),
            next_client: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Re-resolves the name, keeping the ejection state of addresses that remain.
    pub async fn resolve(&self) -> std::io::Result<usize> {
        let Some(host) = &self.host else { return Ok(self.endpoints.read().len()) };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), self.port)).await?.collect();
        let mut endpoints = self.endpoints.write();
        let previous = std::mem::take(&mut *endpoints);
        for addr in addrs {
            let ejected_until = previous.iter().find(|e| e.addr == addr).and_then(|e| e.ejected_until);
            if !endpoints.iter().any(|e| e.addr == addr) {
                endpoints.push(Endpoint::new(addr, ejected_until));
            }
        }
        Ok(endpoints.len())
    }

    /// The next address, round robin, skipping ejected ones (all ejected: try one anyway).
    pub fn pick(&self) -> Option<SocketAddr> {
        self.pick_endpoint().map(|(addr, _)| addr)
    }

    /// [`RemoteUpstream::pick`], with the address as a URI authority.
    pub(crate) fn pick_endpoint(&self) -> Option<(SocketAddr, http::uri::Authority)> {
        let endpoints = self.endpoints.read();
        if endpoints.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let usable = |e: &&Endpoint| e.ejected_until.is_none_or(|t| t <= Instant::now());
        (0..endpoints.len())
            .map(|i| &endpoints[(start + i) % endpoints.len()])
            .find(usable)
            .or_else(|| endpoints.get(start % endpoints.len()))
            .map(|e| (e.addr, e.authority.clone()))
    }

    /// Takes `addr` out of rotation for a while after a connection failure.
    pub fn eject(&self, addr: SocketAddr) {
        for endpoint in self.endpoints.write().iter_mut().filter(|e| e.addr == addr) {
            endpoint.ejected_until = Some(Instant::now() + EJECTION);
        }
    }

    /// The next HTTP/2 client, round robin (each keeps one connection per address).
    pub(crate) fn client(&self) -> &Client<HttpConnector, tonic::body::Body> {
        let i = self.next_client.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        &self.clients[i]
    }

    /// Every address currently known.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.endpoints.read().iter().map(|e| e.addr).collect()
    }
}

/// One multiplexed HTTP/2 connection per address, kept alive with pings.
/// HTTP/2 connections kept to each upstream address.
const CONNECTIONS_PER_ADDRESS: usize = 4;

fn h2_client() -> Client<HttpConnector, tonic::body::Body> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(1)));
    // The keep-alive pings need a timer: without one hyper panics on the first request.
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .http2_only(true)
        // As large as what the services' servers accept: the default (16 KiB) closes the
        // shared connection, failing every call on it, when one answer's trailers are larger.
        .http2_max_header_list_size(kaigo_platform::server::MAX_HEADER_LIST_BYTES)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .http2_keep_alive_timeout(Duration::from_secs(10))
        .build(connector)
}
