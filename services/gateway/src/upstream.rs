//! Where a service's calls go: in-process routes (`kaigo dev`) or the service's replicas.
//!
//! A remote upstream is a URL whose host may resolve to many pod addresses (a headless
//! Service). Calls are balanced per request, round robin, over a few multiplexed HTTP/2
//! connections per address ([`Connections`]); the name is re-resolved periodically, and an
//! address whose connection fails is ejected for a while and then tried again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;

use crate::connections::Connections;

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

#[derive(Clone)]
struct Endpoint {
    addr: SocketAddr,
    /// `addr` as a URI authority, built once rather than formatted per call.
    authority: http::uri::Authority,
    ejected_until: Option<Instant>,
    /// The address's connections, kept while the address stays resolved.
    connections: Arc<Connections>,
}

impl Endpoint {
    fn new(addr: SocketAddr, ejected_until: Option<Instant>) -> Self {
        // A socket address always reads as an authority; the fallback is never taken.
        let authority = http::uri::Authority::try_from(addr.to_string())
            .unwrap_or_else(|_| http::uri::Authority::from_static("invalid"));
        Self { addr, authority, ejected_until, connections: Arc::new(Connections::new(addr)) }
    }
}

/// The address a call goes to, with its connections.
pub(crate) struct Picked {
    pub addr: SocketAddr,
    pub authority: http::uri::Authority,
    pub connections: Arc<Connections>,
}

/// A balanced set of replica addresses behind one DNS name.
#[derive(Clone)]
pub struct RemoteUpstream {
    /// The name to re-resolve; `None` for a fixed address list.
    host: Option<String>,
    port: u16,
    endpoints: Arc<RwLock<Vec<Endpoint>>>,
    next: Arc<AtomicUsize>,
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
        Ok(Self {
            host: Some(host),
            port,
            endpoints: Arc::new(RwLock::new(Vec::new())),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// An upstream over a fixed list of replica addresses (no DNS), balanced and ejected like
    /// a resolved name.
    pub fn from_addresses(addrs: &[SocketAddr]) -> Self {
        let endpoints = addrs.iter().map(|&addr| Endpoint::new(addr, None)).collect();
        Self { host: None, port: 0, endpoints: Arc::new(RwLock::new(endpoints)), next: Arc::new(AtomicUsize::new(0)) }
    }

    /// Re-resolves the name, keeping the ejection state of addresses that remain.
    pub async fn resolve(&self) -> std::io::Result<usize> {
        let Some(host) = &self.host else { return Ok(self.endpoints.read().len()) };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), self.port)).await?.collect();
        let mut endpoints = self.endpoints.write();
        let previous = std::mem::take(&mut *endpoints);
        for addr in addrs {
            if endpoints.iter().any(|e| e.addr == addr) {
                continue;
            }
            // An address that remains keeps its connections and its ejection.
            match previous.iter().find(|e| e.addr == addr) {
                Some(kept) => endpoints.push(kept.clone()),
                None => endpoints.push(Endpoint::new(addr, None)),
            }
        }
        Ok(endpoints.len())
    }

    /// The next address, round robin, skipping ejected ones (all ejected: try one anyway).
    pub fn pick(&self) -> Option<SocketAddr> {
        self.pick_endpoint().map(|picked| picked.addr)
    }

    /// [`RemoteUpstream::pick`], with the address as a URI authority and its connections.
    pub(crate) fn pick_endpoint(&self) -> Option<Picked> {
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
            .map(|e| Picked { addr: e.addr, authority: e.authority.clone(), connections: e.connections.clone() })
    }

    /// Takes `addr` out of rotation for a while after a connection failure.
    pub fn eject(&self, addr: SocketAddr) {
        for endpoint in self.endpoints.write().iter_mut().filter(|e| e.addr == addr) {
            endpoint.ejected_until = Some(Instant::now() + EJECTION);
        }
    }

    /// Every address currently known.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.endpoints.read().iter().map(|e| e.addr).collect()
    }
}
