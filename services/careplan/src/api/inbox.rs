//! The receiving side and the reads: ListInbox, ListSent, GetBundle,
//! DownloadBundle and AcknowledgeBundle. Listings carry metadata only (no personal data); the
//! reads of one bundle are audited, allowed or not.

use kaigo_platform::audit::{ALLOWED, DENIED, NOT_FOUND, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::db::ReadConn;
use kaigo_platform::errors::{ApiError, Violations, db};
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_platform::validate::enum_filter;
use kaigo_proto::kaigo::careplan::v1 as pb;
use sea_orm::ConnectionTrait;
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};

use super::convert::{bundle_pb, month_text};
use super::{Api, caller_office};
use crate::domain::bundle::read_purpose;
use crate::store::entities::{bundle, bundle_file};
use crate::store::{self, BundleFilter};

pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 500;
/// Bytes per download chunk (the contract's ceiling).
const CHUNK: usize = 1 << 20;

fn page_size(requested: i32) -> u64 {
    match u64::try_from(requested) {
        Ok(0) | Err(_) => DEFAULT_PAGE,
        Ok(n) => n.min(MAX_PAGE),
    }
}

/// The office a listing is for: the caller's own, or PERMISSION_DENIED.
pub(crate) fn own_office<'a>(caller: &'a Caller, requested: &str) -> Result<&'a CareOfficeNumber, ApiError> {
    let office = caller_office(caller)?;
    if requested.chars().count() > 10 {
        let mut v = Violations::new();
        v.add("office_number", "a 介護保険事業所番号 is 10 characters");
        return Err(ApiError::invalid_argument(v));
    }
    if !requested.is_empty() && requested != office.as_str() {
        return Err(ApiError::permission_denied("NOT_OWN_OFFICE", "an office lists only its own bundles"));
    }
    Ok(office)
}

fn filter(
    statuses: &[i32],
    kinds: &[i32],
    other: &str,
    month: Option<&kaigo_proto::kaigo::common::v1::YearMonth>,
    v: &mut Violations,
) -> (BundleFilter, Option<String>) {
    let other = if other.is_empty() {
        None
    } else {
        v.check("office", CareOfficeNumber::parse(other)).map(|o| o.as_str().to_owned())
    };
    // Unknown values refused, duplicates folded, at most the documented 16 (they reach SQL).
    let declared = |known: bool, value: i32| (known && value != 0).then_some(value);
    let statuses = enum_filter(v, "statuses", statuses, 16, |s| declared(pb::BundleStatus::try_from(s).is_ok(), s));
    let kinds = enum_filter(v, "kinds", kinds, 16, |k| declared(pb::SendUnitKind::try_from(k).is_ok(), k));
    (BundleFilter { statuses, kinds, service_month: month.map(month_text), ..BundleFilter::default() }, other)
}

/// A page of bundles with their files' metadata, read in one query on the connection the
/// page came from (a replica has a bundle's files whenever it has the bundle: one transaction).
async fn with_files(
    conn: &impl ConnectionTrait,
    models: Vec<crate::store::entities::bundle::Model>,
) -> Result<Vec<pb::Bundle>, ApiError> {
    let ids: Vec<_> = models.iter().map(|m| m.id.clone()).collect();
    let mut files: std::collections::HashMap<String, Vec<_>> = std::collections::HashMap::new();
    for f in store::file_metadata_of(conn, &ids).await.map_err(db)? {
        files.entry(f.bundle_id.clone()).or_default().push(f);
    }
    Ok(models.iter().map(|m| bundle_pb(m, files.get(&m.id).map_or(&[][..], Vec::as_slice))).collect())
}

pub(crate) async fn list_inbox(
    api: &Api,
    caller: &Caller,
    r: pb::ListInboxRequest,
) -> Result<pb::ListInboxResponse, ApiError> {
    let office = own_office(caller, &r.office_number)?;
    let mut v = Violations::new();
    let (mut f, sender) = filter(&r.statuses, &r.kinds, &r.sender_office_number, r.service_month.as_ref(), &mut v);
    let after = if r.page_token.is_empty() {
        None
    } else {
        // 14 + 1 + 36 = the documented 51 characters.
        let parsed = r
            .page_token
            .split_once('.')
            .filter(|(seq, id)| seq.len() == 14 && seq.bytes().all(|b| b.is_ascii_digit()) && is_uuid(id));
        if parsed.is_none() {
            v.add("page_token", "not a token from a previous page");
        }
        parsed.map(|(s, i)| (s.to_owned(), i.to_owned()))
    };
    v.into_result()?;
    f.receiver = Some(office.as_str().to_owned());
    f.sender = sender;
    let limit = page_size(r.page_size);
    // A replica, unless the office has a write it has not replayed (an acknowledgement).
    let reads = api.reads_for(caller);
    let rows = store::list_inbox(&reads, &f, after, limit + 1).await.map_err(db)?;
    let more = rows.len() as u64 > limit;
    let rows: Vec<_> = rows.into_iter().take(usize::try_from(limit).unwrap_or(usize::MAX)).collect();
    let next_page_token = match rows.last() {
        Some(last) if more => format!("{}.{}", last.file_sequence, last.id),
        _ => String::new(),
    };
    Ok(pb::ListInboxResponse { bundles: with_files(&reads, rows).await?, next_page_token })
}

pub(crate) async fn list_sent(
    api: &Api,
    caller: &Caller,
    r: pb::ListSentRequest,
) -> Result<pb::ListSentResponse, ApiError> {
    let office = own_office(caller, &r.office_number)?;
    let mut v = Violations::new();
    let (mut f, receiver) = filter(&r.statuses, &r.kinds, &r.receiver_office_number, r.service_month.as_ref(), &mut v);
    if !r.page_token.is_empty() && !is_uuid(&r.page_token) {
        v.add("page_token", "not a token from a previous page");
    }
    v.into_result()?;
    f.sender = Some(office.as_str().to_owned());
    f.receiver = receiver;
    let limit = page_size(r.page_size);
    let before = (!r.page_token.is_empty()).then(|| r.page_token.clone());
    // A replica, unless the office has a send it has not replayed.
    let reads = api.reads_for(caller);
    let rows = store::list_sent(&reads, &f, before, limit + 1).await.map_err(db)?;
    let more = rows.len() as u64 > limit;
    let rows: Vec<_> = rows.into_iter().take(usize::try_from(limit).unwrap_or(usize::MAX)).collect();
    let next_page_token = match rows.last() {
        Some(last) if more => last.id.clone(),
        _ => String::new(),
    };
    Ok(pb::ListSentResponse { bundles: with_files(&reads, rows).await?, next_page_token })
}

/// A UUID in its 36-character hyphenated form, the only one the service hands out (the
/// documented maximum of every id and token field).
pub(crate) fn is_uuid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}

fn bundle_id(id: &str) -> Result<(), ApiError> {
    let mut v = Violations::new();
    if !is_uuid(id) {
        v.add("bundle_id", "a bundle id (UUID) is required");
    }
    v.into_result()
}

/// Records one read of a bundle: who, which, when, how it went. Never the contents, and no
/// person: the bundle's persons are known only inside its files.
async fn audit(api: &Api, caller: &Caller, rpc: &'static str, bundle_id: &str, outcome: &'static str) {
    let read = ReadRecord {
        rpc,
        category: "bundle",
        purpose: read_purpose(caller.role).as_str_name().to_owned(),
        outcome,
        persons: Vec::new(),
        resources: vec![bundle_id.to_owned()],
    };
    api.auditor.record(caller, read).await;
}

/// Reads a bundle with its file metadata and checks the caller may see it: the sender, the
/// receiver, or an insurer auditing a bundle about its own insured. Every attempt is audited.
/// Read from a replica unless the caller has a write it has not replayed; a replica without the
/// bundle is not the last word (one just sent and streamed by WatchInbox, or listed by another
/// replica): the primary answers then. Also returns where the bundle was found, for the reads
/// that must agree with it (its files).
async fn readable_bundle(
    api: &Api,
    caller: &Caller,
    action: &'static str,
    bundle_id: &str,
) -> Result<(bundle::Model, Vec<bundle_file::Model>, ReadConn), ApiError> {
    let mut reads = api.reads_for(caller);
    let mut found = store::get_bundle(&reads, bundle_id).await.map_err(db)?;
    if found.is_none() && reads.on_replica() {
        reads = reads.primary();
        found = store::get_bundle(&reads, bundle_id).await.map_err(db)?;
    }
    let Some(model) = found else {
        audit(api, caller, action, bundle_id, NOT_FOUND).await;
        return Err(ApiError::not_found("BUNDLE_NOT_FOUND", "no such bundle"));
    };
    let office = caller.office.as_ref().map(CareOfficeNumber::as_str);
    let party = matches!(caller.role, Role::CareOffice | Role::ServiceProvider)
        && (office == Some(model.sender_office.as_str()) || office == Some(model.receiver_office.as_str()));
    // An insurer audits the bundles that concern its own insured persons.
    let auditor = caller.role == Role::Insurer
        && caller.insurer.as_ref().is_some_and(|i| model.insurer_numbers.split(' ').any(|n| n == i.as_str()));
    if !party && !auditor {
        audit(api, caller, action, bundle_id, DENIED).await;
        return Err(ApiError::permission_denied("NOT_A_PARTY", "only the sending and receiving offices see a bundle"));
    }
    audit(api, caller, action, bundle_id, ALLOWED).await;
    let files = store::file_metadata(&reads, bundle_id).await.map_err(db)?;
    Ok((model, files, reads))
}

pub(crate) async fn get_bundle(
    api: &Api,
    caller: &Caller,
    r: pb::GetBundleRequest,
) -> Result<pb::GetBundleResponse, ApiError> {
    bundle_id(&r.bundle_id)?;
    let (model, files, _) = readable_bundle(api, caller, "GetBundle", &r.bundle_id).await?;
    Ok(pb::GetBundleResponse { bundle: Some(bundle_pb(&model, &files)) })
}

/// Streams the metadata, then each file in chunks, one file in memory at a time. The
/// receiver's first download marks the bundle DELIVERED.
pub(crate) async fn download_bundle(
    api: &Api,
    caller: &Caller,
    r: pb::DownloadBundleRequest,
) -> Result<BoxStream<pb::DownloadBundleResponse>, ApiError> {
    bundle_id(&r.bundle_id)?;
    let (mut model, files, reads) = readable_bundle(api, caller, "DownloadBundle", &r.bundle_id).await?;
    if caller.office.as_ref().map(CareOfficeNumber::as_str) == Some(model.receiver_office.as_str()) {
        let now = api.clock.now();
        // A write: on the primary, and the receiver's reads follow it there until replayed.
        if store::mark_delivered(
            &api.ctx.db,
            &model.id,
            now,
            pb::BundleStatus::Delivered as i32,
            pb::BundleStatus::Sent as i32,
        )
        .await
        .map_err(db)?
        {
            api.wrote(caller);
            model.status = pb::BundleStatus::Delivered as i32;
            model.delivered_at = Some(now);
        }
    }
    let (tx, rx) = mpsc::channel(2);
    let first = pb::DownloadBundleResponse {
        payload: Some(pb::download_bundle_response::Payload::Bundle(bundle_pb(&model, &files))),
    };
    tokio::spawn(async move {
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        for meta in files {
            // Where the bundle was found; a file it lacks is asked of the primary before it is
            // called missing (a read that fell back there mid-way).
            let content = match store::file_content(&reads, &meta.bundle_id, meta.position).await {
                Ok(None) if reads.on_replica() => {
                    store::file_content(&reads.primary(), &meta.bundle_id, meta.position).await
                }
                read => read,
            };
            let file = match content {
                Ok(Some(file)) => file,
                Ok(None) => {
                    let _ = tx.send(Err(Status::data_loss("a file of the bundle is missing"))).await;
                    return;
                }
                Err(err) => {
                    let _ = tx.send(Err(db(err).into())).await;
                    return;
                }
            };
            let mut chunks = file.content.chunks(CHUNK).peekable();
            if chunks.peek().is_none() {
                let chunk = pb::FileChunk { file_name: file.file_name.clone(), data: Vec::new(), last: true };
                if tx
                    .send(Ok(pb::DownloadBundleResponse {
                        payload: Some(pb::download_bundle_response::Payload::Chunk(chunk)),
                    }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            while let Some(data) = chunks.next() {
                let chunk = pb::FileChunk {
                    file_name: file.file_name.clone(),
                    data: data.to_vec(),
                    last: chunks.peek().is_none(),
                };
                if tx
                    .send(Ok(pb::DownloadBundleResponse {
                        payload: Some(pb::download_bundle_response::Payload::Chunk(chunk)),
                    }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

pub(crate) async fn acknowledge_bundle(
    api: &Api,
    caller: &Caller,
    r: pb::AcknowledgeBundleRequest,
) -> Result<pb::AcknowledgeBundleResponse, ApiError> {
    let office = caller_office(caller)?;
    let mut v = Violations::new();
    check_request_id(&mut v, "request_id", &r.request_id);
    if !is_uuid(&r.bundle_id) {
        v.add("bundle_id", "a bundle id (UUID) is required");
    }
    if r.note.chars().count() > 500 {
        v.add("note", "at most 500 characters");
    }
    v.into_result()?;
    let tx = kaigo_platform::db::begin_write(&api.ctx.db).await.map_err(db)?;
    let Some(model) = store::get_bundle(&tx, &r.bundle_id).await.map_err(db)? else {
        return Err(ApiError::not_found("BUNDLE_NOT_FOUND", "no such bundle"));
    };
    if model.receiver_office != office.as_str() {
        return Err(ApiError::permission_denied("NOT_RECEIVER", "only the receiving office acknowledges a bundle"));
    }
    // Only now, with the caller authorised for this bundle, may a stored answer go out.
    let key = IdempotencyKey::new("AcknowledgeBundle", caller, &r.request_id, &r);
    if let Some(first) = key.replay_as(&tx).await? {
        return Ok(first);
    }
    let now = api.clock.now();
    if model.status != pb::BundleStatus::Acknowledged as i32 {
        store::mark_acknowledged(&tx, &model, pb::BundleStatus::Acknowledged as i32, &caller.subject, &r.note, now)
            .await
            .map_err(db)?;
    }
    let model =
        store::get_bundle(&tx, &r.bundle_id).await.map_err(db)?.ok_or_else(|| ApiError::internal("bundle vanished"))?;
    let files = store::file_metadata(&tx, &model.id).await.map_err(db)?;
    let response = pb::AcknowledgeBundleResponse { bundle: Some(bundle_pb(&model, &files)) };
    key.remember_message(&tx, now, &response).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(response)
}

/// ListPersonBundles: the bundles carrying one person, newest first, metadata only. The
/// person's insurer (its own insured) and organisations the registry's facts let see
/// CARE_PLAN of the person today (docs/domain/access.md#in-kaigo); permission is decided
/// before anything is looked up, and every call naming a person is audited.
pub(crate) async fn list_person_bundles(
    api: &Api,
    caller: &Caller,
    r: pb::ListPersonBundlesRequest,
) -> Result<pb::ListPersonBundlesResponse, ApiError> {
    use kaigo_platform::access::PersonRef;
    use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
    let mut v = Violations::new();
    let insurer = v.check("insurer_number", InsurerNumber::parse(&r.insurer_number));
    let insured = v.check("insured_number", InsuredNumber::parse(&r.insured_number));
    if !r.page_token.is_empty() && !is_uuid(&r.page_token) {
        v.add("page_token", "not a token from a previous page");
    }
    if r.page_size < 0 {
        v.add("page_size", "must not be negative");
    }
    let (Some(insurer), Some(insured)) = (insurer, insured) else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    let person = PersonRef::new(insurer.as_str(), insured.as_str());
    let decided = super::summary::decide_care_plan(api, caller, person).await?;
    let read = |outcome, resources: Vec<String>| ReadRecord {
        rpc: "ListPersonBundles",
        category: "bundle",
        purpose: read_purpose(caller.role).as_str_name().to_owned(),
        outcome,
        persons: vec![kaigo_platform::audit::person(insurer.as_str(), insured.as_str())],
        resources,
    };
    if let Err(refused) = decided {
        api.auditor.record(caller, read(DENIED, Vec::new())).await;
        return Err(refused);
    }
    let limit = page_size(r.page_size);
    let before = (!r.page_token.is_empty()).then_some(r.page_token.as_str());
    // A replica, unless the caller has a write it has not replayed; the ids, the bundles and
    // their files all from the same one.
    let conn = &api.reads_for(caller);
    let ids = store::evidence::person_bundle_ids(conn, insurer.as_str(), insured.as_str(), before, limit + 1)
        .await
        .map_err(db)?;
    let more = ids.len() as u64 > limit;
    let ids: Vec<String> = ids.into_iter().take(usize::try_from(limit).unwrap_or(usize::MAX)).collect();
    let mut rows = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(model) = store::get_bundle(conn, id).await.map_err(db)? {
            rows.push(model);
        }
    }
    let next_page_token = match ids.last() {
        Some(last) if more => last.clone(),
        _ => String::new(),
    };
    api.auditor.record(caller, read(ALLOWED, ids)).await;
    Ok(pb::ListPersonBundlesResponse { bundles: with_files(conn, rows).await?, next_page_token })
}
