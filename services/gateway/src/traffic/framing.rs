//! The request body as the gateway checks it before any service sees it: the gRPC framing
//! (1 flag byte, 4 length bytes, the message) of every request, natively or translated from
//! gRPC-Web.
//!
//! - every message is checked against the caller's `max_message_bytes` from its length prefix,
//!   before the message itself is read, so an oversized upload is refused without being
//!   buffered (RESOURCE_EXHAUSTED);
//! - a flag byte other than 0 or 1 (a gRPC-Web client sending a trailers frame, 0x80, or noise),
//!   a body that ends inside a message, and a body the gRPC-Web translator cannot read (invalid
//!   base64) are the caller's mistakes (INVALID_ARGUMENT);
//! - a unary call (one request message) whose body has no message, or a second one, breaks the
//!   method's cardinality: UNIMPLEMENTED, as the gRPC spec has it.
//!
//! The first problem ends the body with an error and is kept in a [`Refusal`] slot, so the
//! layer answers it instead of whatever the aborted upstream call reports. A flag of 1 (a
//! compressed message) is left to the service: without `grpc-encoding` the gRPC compression
//! spec requires INTERNAL, and no kaigo service accepts compressed requests.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A message of `len` bytes over the caller's limit of `max`.
    TooLarge { len: u64, max: u64 },
    /// The body is not a sequence of gRPC messages.
    Malformed(&'static str),
    /// The gRPC-Web translator could not read the body (its message names the problem).
    Unreadable(String),
    /// A unary call with no request message or more than one.
    Cardinality(&'static str),
}

impl Refusal {
    /// The status the caller gets.
    pub(crate) fn status(&self) -> tonic::Status {
        match self {
            Self::TooLarge { len, max } => too_large(*len, *max),
            Self::Malformed(what) => malformed(what),
            Self::Unreadable(what) => malformed(what),
            Self::Cardinality(what) => detailed(tonic::Code::Unimplemented, "REQUEST_CARDINALITY", what),
        }
    }
}

fn malformed(what: &str) -> tonic::Status {
    detailed(tonic::Code::InvalidArgument, "REQUEST_BODY_MALFORMED", what)
}

/// A status with ErrorInfo (domain `kaigo.jp`, `reason`) and no other detail.
pub(crate) fn detailed(code: tonic::Code, reason: &str, message: &str) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let details =
        ErrorDetails::with_error_info(reason, kaigo_platform::errors::ERROR_DOMAIN, std::collections::HashMap::new());
    tonic::Status::with_error_details(code, message, details)
}

/// The shared slot of the first refusal of one call's body.
pub(crate) type RefusalSlot = Arc<OnceLock<Refusal>>;

/// The request extension through which the forwarder learns that an upstream call failed
/// because the caller's body was refused: not the service's failure (no breaker count, no
/// retry).
#[derive(Clone)]
pub(crate) struct BodyRefusal(pub RefusalSlot);

impl BodyRefusal {
    /// The refusal, once the body has been refused.
    pub(crate) fn get(&self) -> Option<&Refusal> {
        self.0.get()
    }
}

/// Follows the gRPC framing of a byte stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct Framing {
    header: [u8; 5],
    header_len: usize,
    /// Bytes of the current message still to come.
    remaining: u64,
    /// Messages whose prefix has been read.
    messages: u64,
    /// At most one message (a unary or server-streaming method).
    unary: bool,
}

impl Framing {
    /// The framing of a method taking one request message (`unary`) or a stream of them.
    pub(crate) fn new(unary: bool) -> Self {
        Self { unary, ..Self::default() }
    }

    /// Feeds `chunk` against the message limit `max`.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], max: u64) -> Result<(), Refusal> {
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let take = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(chunk.len());
                self.remaining -= take as u64;
                chunk = &chunk[take..];
                continue;
            }
            if self.header_len == 0 && self.unary && self.messages > 0 {
                return Err(Refusal::Cardinality(
                    "a unary method takes exactly one request message; the body has more",
                ));
            }
            let take = (5 - self.header_len).min(chunk.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&chunk[..take]);
            self.header_len += take;
            chunk = &chunk[take..];
            if self.header_len == 5 {
                self.header_len = 0;
                match self.header[0] {
                    0 | 1 => {}
                    0x80 => return Err(Refusal::Malformed("a request carries no trailers frame (flag 0x80)")),
                    _ => return Err(Refusal::Malformed("a message's flag byte is 0, or 1 when compressed")),
                }
                let len =
                    u64::from(u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]));
                if len > max {
                    return Err(Refusal::TooLarge { len, max });
                }
                self.messages += 1;
                self.remaining = len;
            }
        }
        Ok(())
    }

    /// Checks the end of the body.
    pub(crate) fn finish(&self) -> Result<(), Refusal> {
        if self.header_len > 0 || self.remaining > 0 {
            return Err(Refusal::Malformed("the request body ends inside a message"));
        }
        if self.unary && self.messages == 0 {
            return Err(Refusal::Cardinality("a unary method takes exactly one request message; the body has none"));
        }
        Ok(())
    }
}

pin_project_lite::pin_project! {
    /// A request body that fails at its first framing problem.
    pub(crate) struct CheckedMessages<B> {
        #[pin]
        inner: B,
        framing: Framing,
        max: u64,
        refusal: RefusalSlot,
        done: bool,
    }
}

impl<B> CheckedMessages<B> {
    /// Wraps `inner`; the first problem is also put in `refusal`.
    pub(crate) fn new(inner: B, unary: bool, max: usize, refusal: RefusalSlot) -> Self {
        Self { inner, framing: Framing::new(unary), max: max as u64, refusal, done: false }
    }
}

impl<B> Body for CheckedMessages<B>
where
    B: Body<Data = Bytes, Error = tonic::Status>,
{
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let checked = match this.inner.poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => match frame.data_ref() {
                Some(data) => this.framing.feed(data, *this.max).map(|()| frame),
                None => Ok(frame),
            },
            Poll::Ready(None) => {
                *this.done = true;
                match this.framing.finish() {
                    Ok(()) => return Poll::Ready(None),
                    Err(refusal) => Err(refusal),
                }
            }
            // The gRPC-Web translator fails the body it cannot read (tonic-web's errors say
            // what and name nothing of the content); a native body fails when the client
            // resets the stream, and then nobody reads the answer.
            Poll::Ready(Some(Err(status))) => {
                *this.done = true;
                Err(Refusal::Unreadable(status.message().to_owned()))
            }
        };
        match checked {
            Ok(frame) => Poll::Ready(Some(Ok(frame))),
            Err(refusal) => {
                *this.done = true;
                let status = refusal.status();
                let _ = this.refusal.set(refusal);
                Poll::Ready(Some(Err(status)))
            }
        }
    }

    /// Never ends before the last poll has checked the end of the framing (an upstream
    /// connection stops polling a body that says it has ended).
    fn is_end_stream(&self) -> bool {
        self.done
    }

    /// Unknown: a gRPC-Web text body is shorter once translated than its `content-length`
    /// says, and HTTP/2 resets a stream whose data disagrees with a declared length.
    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
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
        framed(0, len)
    }

    fn framed(flag: u8, len: usize) -> Vec<u8> {
        let mut bytes = vec![flag];
        bytes.extend_from_slice(&(len as u32).to_be_bytes());
        bytes.extend(std::iter::repeat_n(7u8, len));
        bytes
    }

    fn check(unary: bool, stream: &[u8], chunk: usize) -> Result<(), Refusal> {
        let mut framing = Framing::new(unary);
        for part in stream.chunks(chunk) {
            framing.feed(part, 100)?;
        }
        framing.finish()
    }

    #[test]
    fn messages_within_the_limit_pass_in_any_chunking() {
        let stream: Vec<u8> = [message(10), message(100), message(0), message(100)].concat();
        for chunk in [1, 3, 5, 7, 64, 1000] {
            assert_eq!(check(false, &stream, chunk), Ok(()), "chunk {chunk}");
            assert_eq!(check(true, &message(100), chunk), Ok(()), "chunk {chunk}");
            assert_eq!(check(true, &message(0), chunk), Ok(()), "chunk {chunk}");
        }
    }

    #[test]
    fn the_first_oversized_message_is_caught_from_its_prefix() {
        let stream: Vec<u8> = [message(10), message(101)].concat();
        let mut framing = Framing::new(false);
        // Only the prefix of the big message is needed.
        assert_eq!(framing.feed(&stream[..15 + 5], 100), Err(Refusal::TooLarge { len: 101, max: 100 }));
    }

    #[test]
    fn a_unary_body_has_exactly_one_message() {
        for chunk in [1, 4, 1000] {
            let none = check(true, &[], chunk).unwrap_err();
            let two = check(true, &[message(3), message(0)].concat(), chunk).unwrap_err();
            for refusal in [none, two] {
                assert!(matches!(refusal, Refusal::Cardinality(_)), "{refusal:?}");
                assert_eq!(refusal.status().code(), tonic::Code::Unimplemented);
            }
            // A stream may be empty or have many.
            assert_eq!(check(false, &[], chunk), Ok(()));
        }
    }

    #[test]
    fn truncated_bodies_and_foreign_flags_are_malformed() {
        let truncated_message = &message(10)[..9];
        let truncated_prefix = &message(10)[..3];
        for (name, stream) in [
            ("truncated message", truncated_message.to_vec()),
            ("truncated prefix", truncated_prefix.to_vec()),
            ("trailers frame", framed(0x80, 0)),
            ("flag 2", framed(2, 1)),
            ("flag 0xff", framed(0xff, 1)),
        ] {
            for unary in [true, false] {
                let refusal = check(unary, &stream, 1).unwrap_err();
                assert!(matches!(refusal, Refusal::Malformed(_)), "{name}: {refusal:?}");
                assert_eq!(refusal.status().code(), tonic::Code::InvalidArgument, "{name}");
            }
        }
        // A compressed flag is the service's to judge.
        assert_eq!(check(true, &framed(1, 3), 1000), Ok(()));
    }
}
