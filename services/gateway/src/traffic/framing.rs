//! Request size limits: every gRPC message in a request body is checked against the caller's
//! `max_message_bytes` from its 5-byte length prefix, before the message itself is read, so an
//! oversized upload is refused without being buffered.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Follows the gRPC framing (1 flag byte, 4 length bytes, the message) of a byte stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct Framing {
    header: [u8; 5],
    header_len: usize,
    /// Bytes of the current message still to come.
    remaining: u64,
}

impl Framing {
    /// Feeds `chunk`; returns the length of the first message longer than `max`, if any.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], max: u64) -> Option<u64> {
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let take = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(chunk.len());
                self.remaining -= take as u64;
                chunk = &chunk[take..];
                continue;
            }
            let take = (5 - self.header_len).min(chunk.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&chunk[..take]);
            self.header_len += take;
            chunk = &chunk[take..];
            if self.header_len == 5 {
                self.header_len = 0;
                let len =
                    u64::from(u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]));
                if len > max {
                    return Some(len);
                }
                self.remaining = len;
            }
        }
        None
    }
}

pin_project_lite::pin_project! {
    /// A request body that fails as soon as a message over the limit starts.
    pub(crate) struct LimitedMessages<B> {
        #[pin]
        inner: B,
        framing: Framing,
        max: u64,
        exceeded: Arc<AtomicU64>,
    }
}

impl<B> LimitedMessages<B> {
    /// Wraps `inner`; `exceeded` is set to the oversized length when the limit is hit, so the caller can answer
    /// RESOURCE_EXHAUSTED instead of whatever the aborted upstream call reports.
    pub(crate) fn new(inner: B, max: usize, exceeded: Arc<AtomicU64>) -> Self {
        Self { inner, framing: Framing::default(), max: max as u64, exceeded }
    }
}

impl<B> Body for LimitedMessages<B>
where
    B: Body<Data = Bytes, Error = tonic::Status>,
{
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = self.project();
        let frame = match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref()
            && let Some(len) = this.framing.feed(data, *this.max)
        {
            this.exceeded.store(len, Ordering::Release);
            return Poll::Ready(Some(Err(too_large(len, *this.max))));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The status of an oversized message (gRPC uses RESOURCE_EXHAUSTED for this).
pub(crate) fn too_large(len: u64, max: u64) -> tonic::Status {
    tonic::Status::resource_exhausted(format!("request message of {len} bytes exceeds the limit of {max} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&(len as u32).to_be_bytes());
        bytes.extend(std::iter::repeat_n(7u8, len));
        bytes
    }

    #[test]
    fn messages_within_the_limit_pass_in_any_chunking() {
        let stream: Vec<u8> = [message(10), message(100), message(0), message(100)].concat();
        for chunk in [1, 3, 5, 7, 64, 1000] {
            let mut framing = Framing::default();
            for part in stream.chunks(chunk) {
                assert_eq!(framing.feed(part, 100), None, "chunk {chunk}");
            }
        }
    }

    #[test]
    fn the_first_oversized_message_is_caught_from_its_prefix() {
        let stream: Vec<u8> = [message(10), message(101)].concat();
        let mut framing = Framing::default();
        // Only the prefix of the big message is needed.
        assert_eq!(framing.feed(&stream[..15 + 5], 100), Some(101));
    }
}
