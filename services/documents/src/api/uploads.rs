//! The unary upload (StartAttachmentUpload, AppendAttachmentChunk, FinishAttachmentUpload)
//! for browsers on gRPC-Web, which cannot stream to the server.
//!
//! Design: an object_store multipart upload cannot be resumed from another RPC (or another
//! replica), so each appended chunk is stored on its own, encrypted, as a part object
//! `uploads/<upload id>/<offset>`, and the session row counts the bytes received. Finish
//! reads the parts back one at a time (memory: one chunk of at most 1 MiB) and feeds them
//! through the very same intake as the streaming upload (size, PDF check, SHA-256, 64 KiB
//! cipher frames into `pending/<id>`), then commits exactly as it does. A refused Finish
//! deletes the session and its parts; a stored one deletes its parts and keeps the row (a
//! retried Finish answers from it) until the sweeper removes sessions left idle.

use bytes::{Bytes, BytesMut};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations, db};
use kaigo_proto::kaigo::documents::v1::{
    AppendAttachmentChunkRequest, AppendAttachmentChunkResponse, FinishAttachmentUploadRequest,
    FinishAttachmentUploadResponse, StartAttachmentUploadRequest, StartAttachmentUploadResponse,
    UploadAttachmentResponse, UploadMetadata,
};
use prost::Message;
use tonic::Code;

use super::Inner;
use super::attachments::{MAX_CHUNK, check_metadata, commit, may_attach, upload_key};
use super::intake::{Intake, bad, storage};
use crate::blob::storage::PendingGuard;
use crate::domain::fields;
use crate::store::entities::upload_session;
use crate::store::uploads;

/// The blob id a part is sealed for: binds the part to its session and offset.
fn part_blob_id(upload_id: &str, offset: u64) -> String {
    format!("{upload_id}/{offset}")
}

/// StartAttachmentUpload: opens (or resumes, for the same request_id) a session.
pub async fn start(
    api: &Inner,
    caller: &Caller,
    req: StartAttachmentUploadRequest,
) -> Result<StartAttachmentUploadResponse, ApiError> {
    let mut v = Violations::new();
    let Some(meta) = req.metadata else {
        v.add("metadata", "required");
        return Err(ApiError::invalid_argument(v));
    };
    check_metadata(&mut v, &meta, api.max_attachment_bytes);
    v.into_result()?;
    may_attach(api, caller, &meta).await?;
    if upload_key(caller, &meta).replay(&api.db).await?.is_some() {
        return Err(ApiError::failed_precondition(
            "UPLOAD_ALREADY_FINISHED",
            "this request_id's upload is already stored; use a new request_id for another file",
        ));
    }
    let now = api.clock.now();
    let encoded = meta.encode_to_vec();
    let session = uploads::open(
        &api.db,
        upload_session::Model {
            id: uuid::Uuid::now_v7().to_string(),
            request_id: meta.request_id.clone(),
            caller_org: caller.party(),
            caller_role: caller.role.as_str().to_owned(),
            caller_subject: caller.subject.clone(),
            metadata: encoded.clone(),
            key_id: api.keys.active_id().to_owned(),
            received_bytes: 0,
            created_at: now,
            updated_at: now,
        },
    )
    .await
    .map_err(db)?;
    if session.metadata != encoded || session.caller_role != caller.role.as_str() {
        return Err(ApiError::already_exists(
            "REQUEST_ID_REUSED",
            "this request_id was already used for a different upload",
        ));
    }
    Ok(StartAttachmentUploadResponse { upload_id: session.id, received_bytes: session.received_bytes })
}

/// The caller's session: NOT_FOUND when unknown or expired, PERMISSION_DENIED when it is
/// someone else's (same organisation and role as the one that started it).
async fn own_session(api: &Inner, caller: &Caller, upload_id: &str) -> Result<upload_session::Model, ApiError> {
    let mut v = Violations::new();
    fields::id(&mut v, "upload_id", upload_id, true);
    v.into_result()?;
    let Some(session) = uploads::get(&api.db, upload_id).await.map_err(db)? else {
        return Err(ApiError::not_found("UPLOAD_NOT_FOUND", "no such upload session (expired or finished)"));
    };
    if session.caller_org != caller.party() || session.caller_role != caller.role.as_str() {
        return Err(ApiError::permission_denied(
            "NOT_UPLOAD_OWNER",
            "only the organisation that started this upload may continue it",
        ));
    }
    Ok(session)
}

fn metadata_of(session: &upload_session::Model) -> Result<UploadMetadata, ApiError> {
    UploadMetadata::decode(session.metadata.as_slice()).map_err(ApiError::internal)
}

/// AppendAttachmentChunk: stores the chunk at `offset` when it is the next one; a repeated
/// chunk is acknowledged without effect, a gap is refused.
pub async fn append(
    api: &Inner,
    caller: &Caller,
    req: AppendAttachmentChunkRequest,
) -> Result<AppendAttachmentChunkResponse, ApiError> {
    let mut v = Violations::new();
    fields::id(&mut v, "upload_id", &req.upload_id, true);
    if req.offset < 0 {
        v.add("offset", "zero or more");
    }
    if req.chunk.is_empty() {
        v.add("chunk", "required");
    } else if req.chunk.len() > MAX_CHUNK {
        v.add("chunk", "at most 1 MiB per message");
    }
    v.into_result()?;
    let session = own_session(api, caller, &req.upload_id).await?;
    let meta = metadata_of(&session)?;
    let len = i64::try_from(req.chunk.len()).unwrap_or(i64::MAX);
    let end = req.offset.saturating_add(len);
    let received = session.received_bytes;
    if end <= received {
        // A retry of a chunk already stored.
        return Ok(AppendAttachmentChunkResponse { received_bytes: received });
    }
    if req.offset != received {
        return Err(ApiError::failed_precondition(
            "UPLOAD_OFFSET_MISMATCH",
            format!("chunks must arrive in order without gaps: expected offset {received}"),
        ));
    }
    if end > meta.size_bytes {
        return Err(bad("chunk", "more bytes than the declared metadata.size_bytes"));
    }
    let offset = u64::try_from(req.offset).unwrap_or(0);
    let Some(mut encryptor) = api.keys.encryptor_with(&session.key_id, &part_blob_id(&session.id, offset)) else {
        return Err(ApiError::internal(format!("encryption key {} is not configured", session.key_id)));
    };
    let mut sealed = BytesMut::from(encryptor.header().as_ref());
    for frame in encryptor.push(&req.chunk) {
        sealed.extend_from_slice(&frame);
    }
    sealed.extend_from_slice(&encryptor.finish());
    api.blobs.put_part(&session.id, offset, sealed.freeze()).await.map_err(storage)?;
    if uploads::advance(&api.db, &session.id, received, end, api.clock.now()).await.map_err(db)? {
        return Ok(AppendAttachmentChunkResponse { received_bytes: end });
    }
    // A concurrent append moved first: harmless if it stored this very range.
    let now = uploads::get(&api.db, &session.id).await.map_err(db)?.map(|s| s.received_bytes).unwrap_or(0);
    if now >= end {
        Ok(AppendAttachmentChunkResponse { received_bytes: now })
    } else {
        Err(ApiError::failed_precondition(
            "UPLOAD_OFFSET_MISMATCH",
            format!("chunks must arrive in order without gaps: expected offset {now}"),
        ))
    }
}

/// Reads and decrypts the part at `offset`.
async fn read_part(api: &Inner, session: &upload_session::Model, offset: u64) -> Result<Bytes, ApiError> {
    // The store lost or altered a chunk: an internal fault (logged), the client restarts.
    let corrupted = || ApiError::internal("a stored chunk of an upload is missing or corrupted");
    let Some(sealed) = api.blobs.read_part(&session.id, offset).await.map_err(storage)? else {
        return Err(corrupted());
    };
    let Some(mut decryptor) = api.keys.decryptor(&session.key_id, &part_blob_id(&session.id, offset)) else {
        return Err(ApiError::internal(format!("encryption key {} is not configured", session.key_id)));
    };
    let mut plain = BytesMut::new();
    for piece in decryptor.push(&sealed).map_err(|_| corrupted())? {
        plain.extend_from_slice(&piece);
    }
    plain.extend_from_slice(&decryptor.finish().map_err(|_| corrupted())?);
    Ok(plain.freeze())
}

/// Removes a session and its parts (best effort: the sweeper retries what fails).
async fn discard(api: &Inner, upload_id: &str) {
    if let Err(err) = api.blobs.delete_parts(upload_id).await {
        tracing::warn!(error = %err, "could not delete an upload's parts; the sweeper will");
        return;
    }
    if let Err(err) = uploads::delete(&api.db, upload_id).await {
        tracing::warn!(error = %err, "could not delete an upload session; the sweeper will");
    }
}

/// FinishAttachmentUpload: verifies and stores the file exactly as UploadAttachment does.
pub async fn finish(
    api: &Inner,
    caller: &Caller,
    req: FinishAttachmentUploadRequest,
) -> Result<FinishAttachmentUploadResponse, ApiError> {
    let session = own_session(api, caller, &req.upload_id).await?;
    let meta = metadata_of(&session)?;
    // Authorised for the subject first (as the streaming upload is), then a stored answer.
    may_attach(api, caller, &meta).await?;
    let idem = upload_key(caller, &meta);
    if let Some(stored) = idem.replay_as::<UploadAttachmentResponse>(&api.db).await? {
        return Ok(FinishAttachmentUploadResponse { attachment: stored.attachment });
    }
    if session.received_bytes != meta.size_bytes {
        return Err(ApiError::failed_precondition(
            "UPLOAD_INCOMPLETE",
            format!("{} of the declared {} bytes have arrived", session.received_bytes, meta.size_bytes),
        ));
    }

    let id = uuid::Uuid::now_v7().to_string();
    let guard = PendingGuard::new(api.blobs.clone(), id.clone());
    let mut writer = api.blobs.writer(&id).await.map_err(storage)?;
    let assembled = async {
        let mut intake = Intake::start(api, &id, &meta, &mut writer).await?;
        let mut offset = 0u64;
        let declared = u64::try_from(meta.size_bytes).unwrap_or(0);
        while offset < declared {
            let plain = read_part(api, &session, offset).await?;
            if plain.is_empty() {
                return Err(ApiError::internal("a stored chunk of an upload is empty"));
            }
            intake.push(&plain, &mut writer).await?;
            offset += plain.len() as u64;
        }
        intake.finish(api, &meta, &mut writer).await
    }
    .await;
    let received = match assembled {
        Ok(received) => received,
        Err(err) => {
            writer.abort().await;
            // Refused content: nothing of it stays. Storage trouble: keep it for a retry.
            if err.code() == Code::InvalidArgument {
                discard(api, &session.id).await;
            }
            return Err(err);
        }
    };
    writer.finish().await.map_err(storage)?;
    let stored = commit(api, caller, &meta, &id, received, guard, &idem).await?;
    // The parts go now; the row stays until the sweeper's idle age so that a Finish retried
    // after a lost response still finds the session and gets the stored attachment again.
    if let Err(err) = api.blobs.delete_parts(&session.id).await {
        tracing::warn!(error = %err, "could not delete an upload's parts; the sweeper will");
    }
    Ok(FinishAttachmentUploadResponse { attachment: stored.attachment })
}
