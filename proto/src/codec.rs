//! The codec of every generated client and server: tonic-prost's, except that a message that
//! does not decode is the sender's mistake.
//!
//! tonic-prost answers an undecodable message (a wrong wire type, a truncated field, invalid
//! UTF-8 in a string, random bytes) with INTERNAL, which a client following AIP-194 takes for
//! the server's fault. Here the same failure is INVALID_ARGUMENT: a server receiving such a
//! request says the request is bad. The generated code uses this codec through `codec_path`
//! in `build.rs`; encoding and the decoding of valid messages are tonic-prost's, unchanged.
//!
//! The generated clients share the codec, so a client that receives an undecodable *response*
//! reports INVALID_ARGUMENT too; the message then names the cause ("could not be decoded"),
//! and a service calling another treats any code it does not expect as a failure of that call.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// [`ProstCodec`] whose decoder answers INVALID_ARGUMENT for a message it cannot decode.
#[derive(Debug, Clone)]
pub struct KaigoCodec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Default for KaigoCodec<T, U> {
    fn default() -> Self {
        Self { inner: ProstCodec::default() }
    }
}

impl<T, U> Codec for KaigoCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = KaigoDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        KaigoDecoder { inner: self.inner.decoder(), _message: PhantomData }
    }
}

/// The decoder of [`KaigoCodec`].
#[derive(Debug)]
pub struct KaigoDecoder<U> {
    inner: ProstDecoder<U>,
    _message: PhantomData<U>,
}

impl<U: Message + Default> Decoder for KaigoDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // prost's DecodeError names the message, field and wire problem, never field values.
        self.inner.decode(buf).map_err(|status| Status::invalid_argument(undecodable(status.message())))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

/// The message of an undecodable message's status: tonic-prost's cause, without its prefix.
fn undecodable(cause: &str) -> String {
    let cause = cause.strip_prefix("failed to decode Protobuf message: ").unwrap_or(cause);
    format!("the message could not be decoded as protobuf: {cause}")
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::StreamExt;
    use tonic::codec::Streaming;

    use super::*;
    use crate::kaigo::eligibility::v1::CheckEligibilityRequest;

    /// Decodes one gRPC-framed `message` as a server decodes a request.
    async fn decode(message: &[u8]) -> Result<CheckEligibilityRequest, Status> {
        let mut framed = vec![0u8];
        framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        framed.extend_from_slice(message);
        let body = http_body_util::Full::new(Bytes::from(framed));
        let decoder = KaigoCodec::<CheckEligibilityRequest, CheckEligibilityRequest>::default().decoder();
        let mut stream = Streaming::new_request(decoder, body, None, None);
        stream.next().await.expect("one message")
    }

    #[tokio::test]
    async fn undecodable_messages_are_invalid_argument() {
        let cases: [&[u8]; 5] = [
            b"\xff\x01\x02garbage",  // wire type 7
            b"\x0a\x05ab",           // a string longer than the message
            b"\x0a\x02\xff\xfe",     // invalid UTF-8
            b"\x08\x01",             // field 1 (a string) as a varint
            b"\x1a\x03\x08\x80\x80", // a truncated varint inside as_of
        ];
        for bytes in cases {
            let status = decode(bytes).await.unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{bytes:?}: {status:?}");
            assert!(status.message().starts_with("the message could not be decoded"), "{}", status.message());
        }
    }

    #[tokio::test]
    async fn valid_messages_decode_as_before() {
        let message = CheckEligibilityRequest {
            insurer_number: "435073".into(),
            insured_number: "0000000001".into(),
            ..Default::default()
        };
        assert_eq!(decode(&message.encode_to_vec()).await.unwrap(), message);
        assert_eq!(decode(&[]).await.unwrap(), CheckEligibilityRequest::default());
    }
}
