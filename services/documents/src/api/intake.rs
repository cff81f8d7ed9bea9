//! The path every uploaded byte takes, streaming or unary: size, PDF structure, SHA-256,
//! then 64 KiB cipher frames into the pending blob.

use kaigo_platform::errors::{ApiError, Violations};
use kaigo_proto::kaigo::documents::v1::UploadMetadata;
use sha2::{Digest, Sha256};

use super::Inner;
use crate::blob::storage::BlobWriter;
use crate::domain::pdf::PdfSniffer;

/// What a verified upload yields.
pub(super) struct Received {
    pub(super) sha256_hex: String,
    pub(super) key_id: String,
}

/// Object storage could not be reached: UNAVAILABLE, the cause logged.
pub(super) fn storage(err: object_store::Error) -> ApiError {
    ApiError::unavailable(err)
}

/// INVALID_ARGUMENT with one field violation.
pub(super) fn bad(field: &str, why: &str) -> ApiError {
    let mut v = Violations::new();
    v.add(field, why);
    ApiError::invalid_argument(v)
}

/// The checks and the cipher every uploaded byte passes through, in order: size, PDF
/// structure, digest, then encryption into the writer.
pub(super) struct Intake {
    declared: u64,
    received: u64,
    encryptor: crate::blob::crypto::Encryptor,
    sniffer: PdfSniffer,
    hasher: Sha256,
}

impl Intake {
    /// Starts blob `id`, writing its header.
    pub(super) async fn start(
        api: &Inner,
        id: &str,
        meta: &UploadMetadata,
        writer: &mut BlobWriter,
    ) -> Result<Self, ApiError> {
        let encryptor = api.keys.encryptor(id);
        writer.write(encryptor.header()).await.map_err(storage)?;
        Ok(Self {
            declared: u64::try_from(meta.size_bytes).unwrap_or(0),
            received: 0,
            encryptor,
            sniffer: PdfSniffer::new(),
            hasher: Sha256::new(),
        })
    }

    /// Passes the next bytes through.
    pub(super) async fn push(&mut self, chunk: &[u8], writer: &mut BlobWriter) -> Result<(), ApiError> {
        self.received += chunk.len() as u64;
        if self.received > self.declared {
            return Err(bad("metadata.size_bytes", "more bytes arrived than declared"));
        }
        self.sniffer.push(chunk).map_err(|e| bad("chunk", e.message()))?;
        self.hasher.update(chunk);
        for frame in self.encryptor.push(chunk) {
            writer.write(frame).await.map_err(storage)?;
        }
        Ok(())
    }

    /// Verifies size, PDF trailer and digest, then seals the last frame.
    pub(super) async fn finish(
        self,
        api: &Inner,
        meta: &UploadMetadata,
        writer: &mut BlobWriter,
    ) -> Result<Received, ApiError> {
        if self.received < self.declared {
            return Err(bad("metadata.size_bytes", "fewer bytes arrived than declared: the upload is truncated"));
        }
        self.sniffer.finish().map_err(|e| bad("chunk", e.message()))?;
        let digest = hex::encode(self.hasher.finalize());
        if !meta.sha256_hex.is_empty() && meta.sha256_hex != digest {
            return Err(bad("metadata.sha256_hex", "the content does not match this digest: corrupted in transit"));
        }
        writer.write(self.encryptor.finish()).await.map_err(storage)?;
        Ok(Received { sha256_hex: digest, key_id: api.keys.active_id().to_owned() })
    }
}
