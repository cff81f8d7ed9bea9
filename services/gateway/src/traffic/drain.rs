//! The rest of an HTTP/1.1 request body when the call is answered before it was read.
//!
//! A gRPC-Web call over HTTP/1.1 may be refused before its body has been read: authentication,
//! the role's rate and concurrency limits, a declared length over the message limit, a framing
//! problem found from a message's prefix, no such service, headers too large, an open circuit,
//! an upstream that answered early. A server that answers with the body unread closes the
//! connection, and a client that already queued its next call on it sees a broken connection
//! instead of an answer (the bad-input suite failed that way once). So every HTTP/1.1 call's body
//! goes through a [`Tracked`] body whose unread [`Rest`] the router still holds; when the answer
//! is an error (a trailers-only answer, `grpc-status` in its headers), [`Rest::settle`] reads
//! what is left first, bounded in bytes and time, and beyond the bounds the answer says
//! `connection: close`. One place for every refusal, present and future. HTTP/2 streams are
//! never waited on (nor tracked): a streaming client may be waiting for this very answer.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use parking_lot::Mutex;
use tonic::body::Body;

/// The most of a refused body read before answering; beyond it the connection is closed.
const DRAIN_BYTES: usize = 8 << 20;
/// The longest a refused body is waited for; beyond it the connection is closed.
const DRAIN_TIME: Duration = Duration::from_secs(2);

enum State {
    /// Not read to its end yet.
    Reading(Body),
    /// Read to its end (or taken by [`Rest::settle`]).
    Ended,
    /// Failed (the client's framing, a gRPC-Web text body that is not base64, a reset):
    /// what follows on the connection cannot be trusted to start a request.
    Failed,
}

/// What the router keeps of a tracked HTTP/1.1 request body.
pub(crate) struct Rest(Arc<Mutex<State>>);

/// An HTTP/1.1 request body as the layers and the upstream read it.
pub(crate) struct Tracked(Arc<Mutex<State>>);

/// `body`, tracked: the layers read the returned body, the router keeps the [`Rest`].
pub(crate) fn track(body: Body) -> (Body, Rest) {
    let state = Arc::new(Mutex::new(State::Reading(body)));
    (Body::new(Tracked(state.clone())), Rest(state))
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let mut state = self.0.lock();
        let State::Reading(body) = &mut *state else { return Poll::Ready(None) };
        let polled = Pin::new(body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => *state = State::Ended,
            Poll::Ready(Some(Err(_))) => *state = State::Failed,
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &*self.0.lock() {
            State::Reading(body) => body.is_end_stream(),
            State::Ended | State::Failed => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &*self.0.lock() {
            State::Reading(body) => body.size_hint(),
            State::Ended | State::Failed => SizeHint::with_exact(0),
        }
    }
}

impl Rest {
    /// `response`, once the rest of the request body has been read when `response` is an
    /// error; `connection: close` when it cannot be read within the bounds. A response with
    /// messages to come (no `grpc-status` in its headers) is the service's answer while it
    /// reads: nothing is taken from it.
    pub(crate) async fn settle(self, mut response: http::Response<Body>) -> http::Response<Body> {
        if !response.headers().contains_key("grpc-status") {
            return response;
        }
        let state = std::mem::replace(&mut *self.0.lock(), State::Ended);
        let clean = match state {
            State::Reading(body) => drain(body).await,
            State::Ended => true,
            State::Failed => false,
        };
        if !clean {
            response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        response
    }
}

/// Reads `body` to its end, within [`DRAIN_BYTES`] and [`DRAIN_TIME`]; false when it could not.
async fn drain(mut body: Body) -> bool {
    let drained = tokio::time::timeout(DRAIN_TIME, async {
        let mut read = 0usize;
        while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
            match frame {
                Ok(frame) => read += frame.data_ref().map_or(0, Bytes::len),
                Err(_) => return false,
            }
            if read > DRAIN_BYTES {
                return false;
            }
        }
        true
    })
    .await;
    matches!(drained, Ok(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn chunks(parts: &[&'static [u8]]) -> Body {
        let frames: Vec<Result<Frame<Bytes>, tonic::Status>> =
            parts.iter().map(|p| Ok(Frame::data(Bytes::from_static(p)))).collect();
        Body::new(http_body_util::StreamBody::new(futures::stream::iter(frames)))
    }

    fn refusal() -> http::Response<Body> {
        tonic::Status::unauthenticated("no").into_http()
    }

    #[tokio::test]
    async fn an_error_answer_reads_what_is_left_of_the_body() {
        let (mut body, rest) = track(chunks(&[b"ab", b"cd", b"ef"]));
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, Bytes::from_static(b"ab"));
        drop(body);
        let answer = rest.settle(refusal()).await;
        assert!(answer.headers().get(http::header::CONNECTION).is_none());
    }

    #[tokio::test]
    async fn a_failed_body_closes_the_connection_and_a_streaming_answer_is_left_alone() {
        let failing: Body =
            Body::new(http_body_util::StreamBody::new(futures::stream::iter([Err::<Frame<Bytes>, tonic::Status>(
                tonic::Status::invalid_argument("not base64"),
            )])));
        let (mut body, rest) = track(failing);
        assert!(body.frame().await.unwrap().is_err());
        let answer = rest.settle(refusal()).await;
        assert_eq!(answer.headers()[http::header::CONNECTION], "close");

        let (mut body, rest) = track(chunks(&[b"ab", b"cd"]));
        let _ = body.frame().await;
        let answer = rest.settle(http::Response::new(Body::empty())).await;
        assert!(answer.headers().get(http::header::CONNECTION).is_none());
        // The service still reads its request.
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), Bytes::from_static(b"cd"));
    }

    #[tokio::test]
    async fn a_body_over_the_bound_closes_the_connection() {
        static BIG: [u8; 1 << 20] = [7; 1 << 20];
        let parts: Vec<&'static [u8]> = std::iter::repeat_n(&BIG[..], 9).collect();
        let (body, rest) = track(chunks(&parts));
        drop(body);
        let answer = rest.settle(refusal()).await;
        assert_eq!(answer.headers()[http::header::CONNECTION], "close");
    }
}
