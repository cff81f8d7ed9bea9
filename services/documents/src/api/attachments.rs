//! Files: UploadAttachment (client streaming), GetAttachment, DownloadAttachment (server
//! streaming). Memory stays bounded by a few chunks whatever the file size: bytes flow from
//! the gRPC stream through the PDF check, the digest and the cipher into a multipart upload,
//! and back the same way.

use bytes::Bytes;
use futures::StreamExt;
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::db::is_unique_violation;
use kaigo_platform::errors::{ApiError, Violations, db};
use kaigo_proto::kaigo::documents::v1::download_attachment_response::Payload as DownloadPayload;
use kaigo_proto::kaigo::documents::v1::upload_attachment_request::Payload as UploadPayload;
use kaigo_proto::kaigo::documents::v1::{
    Attachment, AttachmentPurpose, DownloadAttachmentRequest, DownloadAttachmentResponse, GetAttachmentRequest,
    GetAttachmentResponse, OpinionRequestStatus, UploadAttachmentRequest, UploadAttachmentResponse, UploadMetadata,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tonic::{Code, Status};

use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};

use super::convert::{actor, purpose, timestamp};
use super::intake::{Intake, Received, bad, storage};
use super::{Inner, denied, read_record};
use crate::blob::storage::{BlobStore, BlobWriter, PendingGuard};
use crate::domain::access;
use crate::domain::fields::{self, MAX_LINE};
use crate::domain::pdf::PDF_MEDIA_TYPE;
use crate::store::{self, entities::attachment};
use kaigo_platform::audit::{ALLOWED, DENIED, ReadRecord};

/// The most bytes one chunk message may carry.
pub const MAX_CHUNK: usize = 1024 * 1024;

pub(super) fn to_proto(m: &attachment::Model) -> Attachment {
    let role = m.uploaded_by_role.parse::<Role>().map(super::convert::proto_role).unwrap_or_default();
    Attachment {
        attachment_id: m.id.clone(),
        purpose: m.purpose,
        subject_id: m.subject_id.clone(),
        file_name: m.file_name.clone(),
        content_type: m.content_type.clone(),
        size_bytes: m.size_bytes,
        sha256_hex: m.sha256_hex.clone(),
        create_time: Some(timestamp(m.created_at)),
        uploaded_by: Some(actor(role, &m.uploaded_by_subject, &m.uploaded_by_org)),
    }
}

/// DATA_LOSS with its reason: the stored bytes are not what was stored.
pub fn data_loss(reason: &'static str, message: &str) -> Status {
    let details = tonic_types::ErrorDetails::with_error_info(
        reason,
        kaigo_platform::errors::ERROR_DOMAIN,
        std::collections::HashMap::<String, String>::new(),
    );
    use tonic_types::StatusExt;
    Status::with_error_details(Code::DataLoss, message, details)
}

pub(super) fn check_metadata(v: &mut Violations, m: &UploadMetadata, max: u64) {
    check_request_id(v, "metadata.request_id", &m.request_id);
    let purpose = fields::code::<AttachmentPurpose>(v, "metadata.purpose", m.purpose, true);
    match purpose {
        Some(AttachmentPurpose::Opinion) => fields::id(v, "metadata.subject_id", &m.subject_id, true),
        _ if m.subject_id.is_empty() => v.add("metadata.subject_id", "required"),
        _ if !crate::domain::request::valid_application_id(&m.subject_id) => {
            v.add("metadata.subject_id", "1–64 letters, digits, '-' or '_'")
        }
        _ => {}
    }
    fields::text(v, "metadata.file_name", &m.file_name, true, MAX_LINE);
    if m.file_name.contains(['/', '\\']) {
        v.add("metadata.file_name", "a name without directories");
    }
    if m.size_bytes <= 0 {
        v.add("metadata.size_bytes", "required (the file's size in bytes)");
    } else if u64::try_from(m.size_bytes).unwrap_or(u64::MAX) > max {
        v.add("metadata.size_bytes", format!("at most {max} bytes"));
    }
    if !m.sha256_hex.is_empty()
        && (m.sha256_hex.len() != 64 || !m.sha256_hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    {
        v.add("metadata.sha256_hex", "64 lower-case hex characters");
    }
}

/// May `caller` attach to this subject?
pub(super) async fn may_attach(api: &Inner, caller: &Caller, m: &UploadMetadata) -> Result<(), ApiError> {
    if m.purpose == AttachmentPurpose::Opinion as i32 {
        let Some(request) = store::get_request(&api.db, &m.subject_id).await.map_err(db)? else {
            return Err(ApiError::not_found("OPINION_REQUEST_NOT_FOUND", "no such opinion request"));
        };
        if !access::is_institution(caller, &super::requests::parties(&request)) {
            return Err(ApiError::permission_denied(
                "NOT_REQUESTED_INSTITUTION",
                "only the medical institution the insurer asked may attach files to this opinion",
            ));
        }
        if request.status == OpinionRequestStatus::Cancelled as i32 {
            return Err(super::flow_error(crate::domain::flow::FlowError::RequestCancelled));
        }
        return Ok(());
    }
    // Subsidy evidence: the applying office or institution.
    match caller.role {
        Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution if caller.organization().is_some() => {
            Ok(())
        }
        _ => Err(ApiError::permission_denied(
            "ROLE_NOT_ALLOWED",
            "only an applying office or institution may upload evidence",
        )),
    }
}

/// UploadAttachment.
pub async fn upload(
    api: &Inner,
    caller: &Caller,
    mut stream: impl futures::Stream<Item = Result<UploadAttachmentRequest, Status>> + Unpin,
) -> Result<UploadAttachmentResponse, ApiError> {
    let first = stream.next().await.transpose().map_err(|_| interrupted())?;
    let Some(UploadPayload::Metadata(meta)) = first.and_then(|m| m.payload) else {
        let mut v = Violations::new();
        v.add("metadata", "the first message must carry the metadata");
        return Err(ApiError::invalid_argument(v));
    };
    let mut v = Violations::new();
    check_metadata(&mut v, &meta, api.max_attachment_bytes);
    v.into_result()?;
    may_attach(api, caller, &meta).await?;
    let idem = upload_key(caller, &meta);
    if let Some(stored) = idem.replay_as(&api.db).await? {
        return Ok(stored);
    }

    let id = uuid::Uuid::now_v7().to_string();
    let guard = PendingGuard::new(api.blobs.clone(), id.clone());
    let mut writer = api.blobs.writer(&id).await.map_err(storage)?;
    let received = match receive(api, &id, &meta, &mut stream, &mut writer).await {
        Ok(received) => received,
        Err(err) => {
            writer.abort().await;
            return Err(err);
        }
    };
    writer.finish().await.map_err(storage)?;
    commit(api, caller, &meta, &id, received, guard, &idem).await
}

/// The identity under which an upload is remembered, by either path (streaming or unary), so
/// a retry by either returns the stored attachment: the metadata is the request.
pub(super) fn upload_key(caller: &Caller, meta: &UploadMetadata) -> IdempotencyKey {
    IdempotencyKey::new("UploadAttachment", caller, &meta.request_id, meta)
}

/// Stores the metadata of blob `id` (written and verified under its pending key) with the
/// idempotency record in one transaction, then moves the blob to its final key. Shared by
/// the streaming and the unary upload, so both leave the same rows and the same layout.
pub(super) async fn commit(
    api: &Inner,
    caller: &Caller,
    meta: &UploadMetadata,
    id: &str,
    received: Received,
    guard: PendingGuard,
    idem: &IdempotencyKey,
) -> Result<UploadAttachmentResponse, ApiError> {
    let id = id.to_owned();
    let org = caller.organization().unwrap_or_default().to_owned();
    let model = attachment::Model {
        id: id.clone(),
        purpose: meta.purpose,
        subject_id: meta.subject_id.clone(),
        file_name: meta.file_name.trim().to_owned(),
        content_type: PDF_MEDIA_TYPE.to_owned(),
        size_bytes: meta.size_bytes,
        sha256_hex: received.sha256_hex,
        key_id: received.key_id,
        blob_key: BlobStore::final_key(&id).to_string(),
        uploaded_by_role: caller.role.as_str().to_owned(),
        uploaded_by_subject: caller.subject.clone(),
        uploaded_by_org: org.clone(),
        created_at: api.clock.now(),
    };
    let response = UploadAttachmentResponse { attachment: Some(to_proto(&model)) };
    let txn = kaigo_platform::db::begin_write(&api.db).await.map_err(db)?;
    let written = async {
        store::insert_attachment(&txn, model).await?;
        idem.remember_message(&txn, api.clock.now(), &response).await?;
        txn.commit().await
    }
    .await;
    match written {
        Ok(()) => {}
        // The same upload finished concurrently: keep that one (the guard deletes this blob).
        Err(err) if is_unique_violation(&err) => return idem.after_conflict_as(&api.db, err).await,
        Err(err) => return Err(db(err)),
    }
    guard.disarm();
    if let Err(err) = api.blobs.promote(&id).await {
        // Reads fall back to the pending key and the sweeper finishes the move.
        tracing::warn!(error = %err, "attachment committed but not yet moved to its final key");
    }
    Ok(response)
}

fn interrupted() -> ApiError {
    ApiError::aborted("UPLOAD_INTERRUPTED", "the upload stream broke off; nothing was stored")
}

/// Streams the chunks through the checks and the cipher into `writer`.
async fn receive(
    api: &Inner,
    id: &str,
    meta: &UploadMetadata,
    stream: &mut (impl futures::Stream<Item = Result<UploadAttachmentRequest, Status>> + Unpin),
    writer: &mut BlobWriter,
) -> Result<Received, ApiError> {
    let mut intake = Intake::start(api, id, meta, writer).await?;
    while let Some(message) = stream.next().await {
        let message = message.map_err(|_| interrupted())?;
        let chunk = match message.payload {
            Some(UploadPayload::Chunk(chunk)) => chunk,
            Some(UploadPayload::Metadata(_)) => return Err(bad("metadata", "only the first message carries metadata")),
            None => return Err(bad("chunk", "a message without payload")),
        };
        if chunk.len() > MAX_CHUNK {
            return Err(bad("chunk", "at most 1 MiB per message"));
        }
        intake.push(&chunk, writer).await?;
    }
    intake.finish(api, meta, writer).await
}

/// Who may read an attachment, and whose record it belongs to.
async fn check_read(
    api: &Inner,
    caller: &Caller,
    m: &attachment::Model,
) -> Result<(String, String), (ApiError, (String, String))> {
    if m.purpose == AttachmentPurpose::Opinion as i32 {
        let request = super::requests::find_request(&api.reads_for(caller), &m.subject_id)
            .await
            .map_err(|e| (db(e), Default::default()))?;
        let Some(request) = request else {
            return Err((denied(access::Denied::NotAParty), Default::default()));
        };
        let whose = (request.insurer_number.clone(), request.insured_number.clone());
        return match api.may_read_opinion(caller, &super::requests::parties(&request)).await {
            Ok(()) => Ok(whose),
            Err(err) => Err((err, whose)),
        };
    }
    let own = caller.role.as_str() == m.uploaded_by_role && caller.organization() == Some(m.uploaded_by_org.as_str());
    if own || caller.role == Role::Operator {
        Ok(Default::default())
    } else {
        Err((denied(access::Denied::NotAParty), Default::default()))
    }
}

async fn load_for_read(
    api: &Inner,
    caller: &Caller,
    action: &'static str,
    id: &str,
    stated_purpose: i32,
) -> Result<(attachment::Model, ReadRecord), ApiError> {
    let mut v = Violations::new();
    fields::id(&mut v, "attachment_id", id, true);
    v.into_result()?;
    // A replica, unless the caller has a write it has not replayed; a replica without the
    // attachment is not the last word (one just uploaded, or named by another replica).
    let reads = api.reads_for(caller);
    let found = match store::get_attachment(&reads, id).await.map_err(db)? {
        None if reads.on_replica() => store::get_attachment(&reads.primary(), id).await.map_err(db)?,
        found => found,
    };
    let Some(m) = found else {
        return Err(ApiError::not_found("ATTACHMENT_NOT_FOUND", "no such attachment"));
    };
    let entry = |whose: (String, String), outcome| {
        // Subsidy evidence belongs to no person known here.
        let person = (!whose.0.is_empty()).then_some((whose.0.as_str(), whose.1.as_str()));
        read_record(action, "attachment", purpose(stated_purpose, caller), outcome, person, [m.id.as_str()])
    };
    match check_read(api, caller, &m).await {
        Ok(whose) => {
            let e = entry(whose, ALLOWED);
            api.auditor.record(caller, e.clone()).await;
            Ok((m, e))
        }
        Err((err, whose)) => {
            api.auditor.record(caller, entry(whose, DENIED)).await;
            Err(err)
        }
    }
}

/// GetAttachment.
pub async fn get(api: &Inner, caller: &Caller, req: GetAttachmentRequest) -> Result<GetAttachmentResponse, ApiError> {
    let (m, _) = load_for_read(api, caller, "GetAttachment", &req.attachment_id, 0).await?;
    Ok(GetAttachmentResponse { attachment: Some(to_proto(&m)) })
}

/// The stream of a download.
pub type DownloadStream = tokio_stream::wrappers::ReceiverStream<Result<DownloadAttachmentResponse, Status>>;

/// DownloadAttachment: metadata, then the plaintext in chunks; every frame is authenticated
/// before it is sent, and the size and digest are checked at the end (DATA_LOSS otherwise).
pub async fn download(
    api: &Inner,
    caller: &Caller,
    req: DownloadAttachmentRequest,
) -> Result<DownloadStream, ApiError> {
    let (m, entry) = load_for_read(api, caller, "DownloadAttachment", &req.attachment_id, req.purpose).await?;
    let Some(mut decryptor) = api.keys.decryptor(&m.key_id, &m.id) else {
        return Err(ApiError::internal(format!("encryption key {} is not configured", m.key_id)));
    };
    let blob = api.blobs.read(&m.id).await.map_err(storage)?;
    let (tx, rx) = mpsc::channel(4);
    let auditor = api.auditor.clone();
    let caller = caller.clone();
    tokio::spawn(async move {
        let first = DownloadAttachmentResponse { payload: Some(DownloadPayload::Metadata(to_proto(&m))) };
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        let result = async {
            let Some(mut blob) = blob else {
                return Err(data_loss("BLOB_MISSING", "the stored file is missing"));
            };
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let send = |plain: Bytes| {
                let tx = tx.clone();
                async move {
                    tx.send(Ok(DownloadAttachmentResponse { payload: Some(DownloadPayload::Chunk(plain.to_vec())) }))
                        .await
                        .is_ok()
                }
            };
            while let Some(bytes) = blob.next().await {
                let bytes = bytes.map_err(|_| Status::unavailable("object storage read failed; retry"))?;
                let pieces =
                    decryptor.push(&bytes).map_err(|_| data_loss("BLOB_CORRUPTED", "the stored file is corrupted"))?;
                for plain in pieces {
                    hasher.update(&plain);
                    size += plain.len() as u64;
                    if !send(plain).await {
                        return Ok(());
                    }
                }
            }
            let last = decryptor
                .finish()
                .map_err(|_| data_loss("BLOB_CORRUPTED", "the stored file is corrupted or truncated"))?;
            hasher.update(&last);
            size += last.len() as u64;
            if !last.is_empty() && !send(last).await {
                return Ok(());
            }
            if size != u64::try_from(m.size_bytes).unwrap_or(0) || hex::encode(hasher.finalize()) != m.sha256_hex {
                return Err(data_loss("DIGEST_MISMATCH", "the stored file does not match its SHA-256 digest"));
            }
            Ok(())
        }
        .await;
        if let Err(status) = result {
            tracing::error!(reason = %status.message(), "attachment failed verification on read");
            auditor.record(&caller, ReadRecord { outcome: "data_loss", ..entry }).await;
            let _ = tx.send(Err(status)).await;
        }
    });
    Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
}
