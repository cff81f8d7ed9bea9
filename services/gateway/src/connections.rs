//! HTTP/2 connections to one upstream address, driven directly with `h2`.
//!
//! A call clones the request handle of one of a few connections (round robin), opens a stream
//! on it from the caller's own task and reads the answer there: no pool checkout, no channel to
//! a connection task, no task spawned per call. The request body is sent from the same task
//! while the answer is awaited (a unary request is sent whole, with its end of stream, before
//! the answer comes); a body still streaming when the answer's head arrives (a client or
//! bidirectional stream) goes on in a task of its own. Each connection is driven by one task
//! that also pings it (every 30 s, 10 s to answer); a connection that closed, failed or was
//! told to go away is replaced on the next call.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use http_body::{Body as _, Frame, SizeHint};
use parking_lot::Mutex;
use tonic::body::Body;

/// HTTP/2 connections kept to each upstream address: one connection serialises framing on one
/// task at each end, so calls are spread over a few.
pub(crate) const CONNECTIONS_PER_ADDRESS: usize = 4;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// What one answer may have in flight unread. An answer's data is released to the service as
/// its caller reads it, so a caller that stops reading (a download on a slow link) holds this
/// much; in the cluster a round trip is well under a millisecond, and 1 MiB a stream is more
/// than a download needs to go at full speed.
const STREAM_WINDOW: u32 = 1024 * 1024;
/// What all answers on a connection may: sixteen streams' windows, so that callers who stop
/// reading hold back the other calls sharing the connection only when more than fifteen do at
/// once. With hyper's client defaults (2 MiB a stream, 5 MiB a connection) three held downloads
/// stopped every answer on their connection (tests/gateway/slow_readers.rs). What is held is
/// only what is unread: at most 16 MiB a connection, reached only by sixteen held streams.
const CONNECTION_WINDOW: u32 = 16 * STREAM_WINDOW;
/// A request's data buffered beyond its stream's window (hyper's client default).
const MAX_SEND_BUFFER: usize = 1024 * 1024;

/// Why a call did not get an answer from the address.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// No connection could be made: the address is worth ejecting.
    #[error("cannot connect to the service: {0}")]
    Connect(std::io::Error),
    /// The connection or the stream failed.
    #[error("the service's connection failed: {0}")]
    Stream(#[from] h2::Error),
}

impl SendError {
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, Self::Connect(_))
    }
}

/// The connections to one address.
pub(crate) struct Connections {
    addr: SocketAddr,
    slots: Box<[Slot]>,
    next: AtomicUsize,
}

#[derive(Default)]
struct Slot {
    /// The open connection, if any.
    live: Mutex<Option<Live>>,
    /// Held while connecting: one call connects, the others of the slot wait for it.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Live {
    send: SendRequest<Bytes>,
    /// Set once the connection's task has ended (closed, failed or unanswered ping).
    closed: Arc<AtomicBool>,
}

impl Live {
    fn usable(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }
}

impl Connections {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        let slots = (0..CONNECTIONS_PER_ADDRESS).map(|_| Slot::default()).collect();
        Self { addr, slots, next: AtomicUsize::new(0) }
    }

    /// A connection of the next slot, connecting it first if it has none open.
    async fn connection(&self) -> Result<Live, SendError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        if let Some(live) = slot.live.lock().as_ref().filter(|l| l.usable()) {
            return Ok(live.clone());
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(live) = slot.live.lock().as_ref().filter(|l| l.usable()) {
            return Ok(live.clone());
        }
        let live = connect(self.addr).await.map_err(SendError::Connect)?;
        *slot.live.lock() = Some(live.clone());
        Ok(live)
    }

    /// Sends `request` (its URI absolute: scheme, authority, path) and returns the answer's
    /// head as soon as it arrives, its body streaming from the connection.
    pub(crate) async fn send(&self, request: http::Request<Body>) -> Result<http::Response<Body>, SendError> {
        let (mut head, body) = request.into_parts();
        strip_connection_headers(&mut head.headers);
        // A connection that went away since its last call answers `ready` with an error before
        // anything of this call was sent: the next one (or a new one) takes the call.
        let mut tries = 0;
        let mut send = loop {
            tries += 1;
            let live = self.connection().await?;
            match live.send.clone().ready().await {
                Ok(send) => break send,
                Err(err) => {
                    live.closed.store(true, Ordering::Release);
                    if tries >= 2 {
                        return Err(err.into());
                    }
                }
            }
        };
        let end_of_stream = body.is_end_stream();
        let (mut answer, stream) = send.send_request(http::Request::from_parts(head, ()), end_of_stream)?;
        let mut pipe = (!end_of_stream).then(|| Pipe { body, stream, held: None, peeked: None, body_done: false });
        let response = std::future::poll_fn(|cx| {
            if let Some(sending) = pipe.as_mut()
                && sending.poll(cx).is_ready()
            {
                pipe = None;
            }
            Pin::new(&mut answer).poll(cx)
        })
        .await?;
        if let Some(mut pipe) = pipe {
            // The request streams on while the answer does (client and bidirectional streams).
            tokio::spawn(std::future::poll_fn(move |cx| pipe.poll(cx)));
        }
        Ok(response.map(|recv| Body::new(Incoming { recv, data_done: false })))
    }
}

/// Opens one connection to `addr` and starts the task that drives it.
async fn connect(addr: SocketAddr) -> std::io::Result<Live> {
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out())??;
    tcp.set_nodelay(true)?;
    let handshake = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_send_buffer_size(MAX_SEND_BUFFER)
        // As large as what the services' servers accept: a smaller limit closes the shared
        // connection, failing every call on it, when one answer's trailers are larger.
        .max_header_list_size(kaigo_platform::server::MAX_HEADER_LIST_BYTES)
        .enable_push(false)
        .handshake::<_, Bytes>(tcp);
    let (send, mut connection) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| timed_out())?
        .map_err(std::io::Error::other)?;
    let closed = Arc::new(AtomicBool::new(false));
    let ping = connection.ping_pong();
    let done = closed.clone();
    tokio::spawn(async move {
        let keep_alive = async move {
            let Some(mut ping) = ping else { return std::future::pending().await };
            loop {
                tokio::time::sleep(PING_INTERVAL).await;
                match tokio::time::timeout(PING_TIMEOUT, ping.ping(h2::Ping::opaque())).await {
                    Ok(Ok(_)) => {}
                    _ => return,
                }
            }
        };
        tokio::select! {
            ended = &mut connection => {
                if let Err(err) = ended {
                    tracing::debug!(upstream = %addr, error = %err, "upstream connection ended");
                }
            }
            () = keep_alive => {
                tracing::warn!(upstream = %addr, "upstream connection did not answer a ping; closing it");
            }
        }
        done.store(true, Ordering::Release);
    });
    Ok(Live { send, closed })
}

/// Headers HTTP/2 forbids (RFC 9113 §8.2.2); a gRPC-Web call over HTTP/1.1 may carry them.
fn strip_connection_headers(headers: &mut http::HeaderMap) {
    for name in [
        http::header::CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
        http::HeaderName::from_static("keep-alive"),
        http::HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    if headers.get(http::header::TE).is_some_and(|te| te != "trailers") {
        headers.remove(http::header::TE);
    }
}

/// The request body on its way to the service, within the stream's flow control.
struct Pipe {
    body: Body,
    stream: h2::SendStream<Bytes>,
    /// A chunk read from the body and waiting for send capacity; `true` when it is the last.
    held: Option<(Bytes, bool)>,
    /// A frame read from the body ahead of time (to learn whether the chunk before it was the
    /// last).
    peeked: Option<Result<Frame<Bytes>, tonic::Status>>,
    /// The body has said it ended (not polled again).
    body_done: bool,
}

impl Pipe {
    /// Sends what the body has; ready when it has all been sent or the stream failed.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.poll_send(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Ready(Err(())) => {
                self.stream.send_reset(h2::Reason::CANCEL);
                Poll::Ready(())
            }
        }
    }

    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        loop {
            // The service may reset the stream (it answered, or refused): stop sending then.
            if self.stream.poll_reset(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            if let Some((chunk, last)) = self.held.take() {
                if self.stream.capacity() == 0 {
                    self.held = Some((chunk, last));
                    match ready!(self.stream.poll_capacity(cx)) {
                        Some(Ok(_)) => continue,
                        Some(Err(_)) | None => return Poll::Ready(Err(())),
                    }
                }
                self.stream.send_data(chunk, last).map_err(|_| ())?;
                if last {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            let frame = match ready!(self.poll_body(cx)) {
                None => return Poll::Ready(self.stream.send_data(Bytes::new(), true).map_err(|_| ())),
                Some(Err(_)) => return Poll::Ready(Err(())),
                Some(Ok(frame)) => frame,
            };
            let frame = match frame.into_data() {
                Ok(chunk) => chunk,
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        self.stream.reserve_capacity(0);
                        return Poll::Ready(self.stream.send_trailers(trailers).map_err(|_| ()));
                    }
                    continue;
                }
            };
            // A body that ends with this chunk (a unary request, usually) sends it with the end
            // of stream: no empty frame after it.
            let last = self.body.is_end_stream() || self.ends_now(cx);
            if frame.is_empty() {
                self.stream.send_data(frame, last).map_err(|_| ())?;
                if last {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // A small claim, raised to the chunk's length by `send_data` (as hyper does, so that
            // a stream waiting for its body never holds connection window).
            self.stream.reserve_capacity(1);
            self.held = Some((frame, last));
        }
    }

    /// The body's next frame (a peeked one first).
    fn poll_body(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        if let Some(peeked) = self.peeked.take() {
            return Poll::Ready(Some(peeked));
        }
        if self.body_done {
            return Poll::Ready(None);
        }
        let polled = ready!(Pin::new(&mut self.body).poll_frame(cx));
        if polled.is_none() {
            self.body_done = true;
        }
        Poll::Ready(polled)
    }

    /// Whether the body, asked again without waiting, says it has ended (what it gives
    /// instead is kept for the next read).
    fn ends_now(&mut self, cx: &mut Context<'_>) -> bool {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(None) => {
                self.body_done = true;
                true
            }
            Poll::Ready(Some(next)) => {
                self.peeked = Some(next);
                false
            }
            Poll::Pending => false,
        }
    }
}

/// The service's answer body, releasing flow-control capacity as it is read.
struct Incoming {
    recv: h2::RecvStream,
    data_done: bool,
}

impl http_body::Body for Incoming {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(err)) => return Poll::Ready(Some(Err(err))),
                None => self.data_done = true,
            }
        }
        match ready!(self.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(err) => Poll::Ready(Some(Err(err))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
