//! SendBundle: one send unit from the caller's office to a registered office of the other
//! side. Everything is checked before anything is stored: the caller, the licence, the
//! receiver, every file and the unit as a whole; then the bundle, its files, the idempotency
//! record and the `careplan.bundle.sent` event are written in one transaction.

use std::collections::HashSet;

use chrono::NaiveDate;
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations, db};
use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_proto::kaigo::careplan::v1 as pb;
use prost::Message;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};

use super::caller_office;
use super::convert::{bundle_pb, month_text, sender_side};
use super::{Api, file_kind, parse_office, unit_kind};
use crate::csv::scan_file;
use crate::domain::bundle::{FileSets, check_sets, check_unit};
use crate::domain::file_name::{FileName, FileSequence};
use crate::domain::issue::Issue;
use crate::domain::kind::{SenderSide, UnitKind};
use crate::domain::licence;
use crate::domain::parties::{Refusal, Registered, may_act, role_name};
use crate::domain::spec::{LetteredOfficeCheck, Spec};
use crate::domain::values::FieldType;
use crate::store::{
    self,
    entities::{bundle, bundle_file},
};

/// The event announcing a new bundle in an inbox (metadata only: no personal data).
pub const BUNDLE_SENT: &str = "careplan.bundle.sent";
/// Most files in one send unit.
const MAX_FILES: usize = 16;

/// The addressing the request states, checked against every file name.
struct Address {
    sender: CareOfficeNumber,
    receiver: CareOfficeNumber,
    sender_type: String,
    receiver_type: String,
    month: Option<String>,
    sequence: FileSequence,
    kind: UnitKind,
}

fn decode(request: &pb::SendBundleRequest, lettered: LetteredOfficeCheck) -> Result<Address, ApiError> {
    let mut v = Violations::new();
    check_request_id(&mut v, "request_id", &request.request_id);
    let Some(b) = &request.bundle else {
        v.add("bundle", "required");
        return Err(ApiError::invalid_argument(v));
    };
    let sender = v.check("bundle.sender_office_number", parse_office(&b.sender_office_number, lettered));
    let receiver = v.check("bundle.receiver_office_number", parse_office(&b.receiver_office_number, lettered));
    let kind = pb::SendUnitKind::try_from(b.kind).ok().and_then(unit_kind);
    if kind.is_none() {
        v.add("bundle.kind", "a send unit kind is required");
    }
    let sequence = FileSequence::parse(&b.file_sequence);
    if sequence.is_none() {
        v.add("bundle.file_sequence", "14 digits YYYYMMDDHHMMSS are required");
    }
    let month = match (&b.service_month, kind) {
        (Some(_), Some(k)) if !k.carries_month() => {
            v.add("bundle.service_month", "plan and 介護予防 units carry no service month");
            None
        }
        (Some(m), _) if !(1..=12).contains(&m.month) || !(1900..=9999).contains(&m.year) => {
            v.add("bundle.service_month", "a year and a month 1 to 12 are required");
            None
        }
        (Some(m), _) => Some(month_text(m)),
        (None, None) => None,
        (None, Some(k)) if !k.carries_month() => None,
        (None, Some(_)) => {
            v.add("bundle.service_month", "required for this send unit");
            None
        }
    };
    if request.files.is_empty() {
        v.add("files", "the unit's files are required");
    }
    if request.files.len() > MAX_FILES {
        v.add("files", format!("at most {MAX_FILES} files per unit"));
    }
    for (field, code) in [
        ("bundle.sender_service_type", &b.sender_service_type),
        ("bundle.receiver_service_type", &b.receiver_service_type),
    ] {
        if code.chars().count() > 2 {
            v.add(field, "a サービス種類コード is 2 characters");
        }
    }
    for (i, f) in request.files.iter().enumerate() {
        super::check_file_name(&mut v, i, &f.file_name);
    }
    // A part that did not parse was reported: the request is the typed Address or its problems.
    match (sender, receiver, kind, sequence) {
        (Some(sender), Some(receiver), Some(kind), Some(sequence)) if v.is_empty() => Ok(Address {
            sender,
            receiver,
            sender_type: b.sender_service_type.clone(),
            receiver_type: b.receiver_service_type.clone(),
            month,
            sequence,
            kind,
        }),
        _ => Err(ApiError::invalid_argument(v)),
    }
}

/// What validation learnt about the files, besides their issues.
struct Checked {
    files: Vec<bundle_file::Model>,
    persons: usize,
    /// The unit's persons (保険者番号, 被保険者番号), sorted: the service evidence's.
    person_keys: Vec<(String, String)>,
    insurers: String,
    content_hash: String,
}

/// Parses every file and the unit, and checks each name against the stated addressing.
fn check_files(
    spec: &Spec,
    address: &Address,
    request: &pb::SendBundleRequest,
) -> Result<Checked, Vec<(Option<usize>, Issue)>> {
    let mut issues: Vec<(Option<usize>, Issue)> = Vec::new();
    let mut names: Vec<FileName> = Vec::new();
    let mut persons = HashSet::new();
    let mut files = Vec::with_capacity(request.files.len());
    let mut sets = Vec::with_capacity(request.files.len());
    for (i, file) in request.files.iter().enumerate() {
        let mut summary = scan_file(&file.file_name, &file.content, spec);
        persons.extend(summary.persons().into_iter().cloned());
        if let Some(kind) = summary.kind {
            sets.push((kind, i, std::mem::take(&mut summary.sets)));
        }
        issues.extend(summary.issues.iter().filter(|x| x.is_error()).cloned().map(|x| (Some(i), x)));
        if let Some(name) = &summary.name {
            for (code, wrong) in [
                ("ADDRESS_MISMATCH", name.sender != address.sender || name.receiver != address.receiver),
                (
                    "ADDRESS_MISMATCH",
                    name.sender_type.as_ref().map(FieldType::render).unwrap_or_default() != address.sender_type
                        || name.receiver_type.as_ref().map(FieldType::render).unwrap_or_default()
                            != address.receiver_type,
                ),
                ("SEQUENCE_MISMATCH", name.sequence != address.sequence),
                (
                    "MONTH_MISMATCH",
                    name.service_month().is_some() && name.service_month().map(|m| m.to_string()) != address.month,
                ),
            ] {
                if wrong {
                    let message = "the file name does not agree with the bundle's addressing";
                    issues.push((Some(i), Issue::error(code, message).in_file(&file.file_name).of_name()));
                }
            }
            names.push(name.clone());
        }
        files.push(bundle_file::Model {
            bundle_id: String::new(),
            position: i32::try_from(i).unwrap_or(i32::MAX),
            file_name: file.file_name.clone(),
            kind: summary.kind.map_or(pb::FileKind::Unspecified, file_kind) as i32,
            csv_version: summary.csv_version.unwrap_or_default(),
            size_bytes: i64::try_from(file.content.len()).unwrap_or(i64::MAX),
            sha256_hex: hex::encode(Sha256::digest(&file.content)),
            record_count: i32::try_from(summary.record_count).unwrap_or(i32::MAX),
            content: Vec::new(),
        });
    }
    // A unit problem about one file is reported at that file (by its name as given).
    let index = |x: &Issue| {
        (!x.file_name.is_empty())
            .then(|| request.files.iter().position(|f| f.file_name.eq_ignore_ascii_case(&x.file_name)))
            .flatten()
    };
    if names.len() == request.files.len() {
        let refs: Vec<_> = names.iter().collect();
        issues
            .extend(check_unit(address.kind, &refs, spec).into_iter().filter(Issue::is_error).map(|x| (index(&x), x)));
    }
    // The records of the unit agree across its files (only worth checking when they parsed).
    if issues.is_empty() {
        let views: Vec<_> = sets
            .iter()
            .map(|(kind, i, sets)| FileSets { kind: *kind, file_name: &request.files[*i].file_name, sets })
            .collect();
        issues.extend(check_sets(&views).into_iter().map(|x| (index(&x), x)));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    // The same files in any order are the same unit.
    let mut parts: Vec<_> =
        files.iter().map(|f| format!("{}:{}", f.file_name.to_ascii_uppercase(), f.sha256_hex)).collect();
    parts.sort();
    let content_hash = hex::encode(Sha256::digest(parts.join("\n").as_bytes()));
    let insurers: std::collections::BTreeSet<_> = persons.iter().map(|p| p.insurer.as_str()).collect();
    let insurers = insurers.into_iter().collect::<Vec<_>>().join(" ");
    let mut person_keys: Vec<(String, String)> =
        persons.iter().map(|p| (p.insurer.as_str().to_owned(), p.insured.as_str().to_owned())).collect();
    person_keys.sort();
    Ok(Checked { files, persons: persons.len(), person_keys, insurers, content_hash })
}

/// Every problem as one field violation: the path names the file, and in it the file name or
/// the line and column (`files[2].file_name`, `files[2].line[14].column[7]`; `files` for the
/// unit as a whole); the violation's reason is the issue's stable code, its description the
/// rule in English (no value quoted).
fn invalid(issues: Vec<(Option<usize>, Issue)>) -> ApiError {
    let mut v = Violations::new();
    for (i, issue) in issues {
        let field = i.map_or_else(|| "files".to_owned(), |i| format!("files[{i}]{}", issue.field_path()));
        v.add_reason(field, issue.code, issue.message);
    }
    ApiError::invalid_argument(v)
}

/// An office of the registry with the service types it registered.
async fn registered(conn: &DatabaseConnection, number: &str) -> Result<Option<Registered>, ApiError> {
    let Some(office) = store::get_office(conn, number).await.map_err(db)? else { return Ok(None) };
    let types = store::office_service_types(conn, number).await.map_err(db)?;
    Ok(Some(Registered { role: office.role, types: types.into_iter().collect() }))
}

/// Refuses a sender without an active licence, a sender that does not run the unit's sending
/// side under the named service type, and a receiver that is not a registered office running
/// the receiving side under its named type (docs/domain/careplan-csv.md#office-types).
async fn check_parties(
    conn: &DatabaseConnection,
    spec: &Spec,
    address: &Address,
    today: NaiveDate,
) -> Result<(), ApiError> {
    let side = sender_side(address.kind);
    let receiving = match side {
        SenderSide::CareOffice => SenderSide::Provider,
        SenderSide::Provider => SenderSide::CareOffice,
    };
    let periods: Vec<_> = store::licence_periods(conn, address.sender.as_str())
        .await
        .map_err(db)?
        .iter()
        .filter_map(super::licences::period)
        .collect();
    if licence::status(&periods, today) != licence::Status::Active {
        return Err(ApiError::failed_precondition(
            "LICENCE_REQUIRED",
            "sending needs an active ケアプランデータ連携 licence for the sending office",
        ));
    }
    let types = &spec.service_types;
    if let Some(sender) = registered(conn, address.sender.as_str()).await? {
        match may_act(&sender, side, &address.sender_type, types) {
            None => {}
            Some(Refusal::TypeNotRegistered) => {
                return Err(ApiError::failed_precondition(
                    "SERVICE_TYPE_NOT_REGISTERED",
                    format!("the sending office has not registered service type {}", address.sender_type),
                ));
            }
            Some(Refusal::WrongSide) => {
                return Err(ApiError::failed_precondition(
                    "WRONG_SIDE",
                    format!("this send unit is sent by a {}", role_name(side).replace('_', " ")),
                ));
            }
        }
    }
    let receiver = registered(conn, address.receiver.as_str()).await?;
    // A 介護予防 plan may also go to a care office (docs/domain/careplan-csv.md#prevention-units).
    let may_receive = |r: &Registered| {
        may_act(r, receiving, &address.receiver_type, types).is_none()
            || (address.kind.care_office_may_receive()
                && may_act(r, SenderSide::CareOffice, &address.receiver_type, types).is_none())
    };
    if receiver.is_none_or(|r| !may_receive(&r)) {
        let what = match receiving {
            SenderSide::CareOffice => "a registered care office",
            SenderSide::Provider => "a registered service provider",
        };
        let message = if address.receiver_type.is_empty() {
            format!("the receiver must be {what}")
        } else {
            format!("the receiver must be {what} that registered service type {}", address.receiver_type)
        };
        return Err(ApiError::failed_precondition("RECEIVER_NOT_REGISTERED", message));
    }
    Ok(())
}

pub(crate) async fn send_bundle(
    api: &Api,
    caller: &Caller,
    request: pb::SendBundleRequest,
) -> Result<pb::SendBundleResponse, ApiError> {
    send_with(&api.ctx.db, &api.spec, api.clock.as_ref(), caller, request).await
}

/// SendBundle on a connection, with the codec's spec and a clock: the API's, or the demo
/// seed's (which sends the demo plan as the demo care office would).
pub(crate) async fn send_with(
    conn: &DatabaseConnection,
    spec: &std::sync::Arc<Spec>,
    clock: &dyn kaigo_platform::time::Clock,
    caller: &Caller,
    request: pb::SendBundleRequest,
) -> Result<pb::SendBundleResponse, ApiError> {
    let office = caller_office(caller)?;
    let address = decode(&request, spec.settings.lettered_office)?;
    if &address.sender != office {
        return Err(ApiError::permission_denied("NOT_SENDER", "the sender must be the caller's own office"));
    }
    // Authorised: an office sends in its own name only. Now a stored answer may go out.
    let key = IdempotencyKey::new("SendBundle", caller, &request.request_id, &request);
    if let Some(first) = key.replay_as(conn).await? {
        return Ok(first);
    }
    let now = clock.now();
    check_parties(conn, spec, &address, kaigo_platform::time::jst_date(now)).await?;
    let spec = std::sync::Arc::clone(spec);
    // Parsing is CPU work: off the async workers. The request moves there and back.
    let (request, address, checked) = tokio::task::spawn_blocking(move || {
        let checked = check_files(&spec, &address, &request);
        (request, address, checked)
    })
    .await
    .map_err(ApiError::internal)?;
    let checked = checked.map_err(invalid)?;

    let content_hash = checked.content_hash.clone();
    if let Some(existing) = existing_unit(conn, &address, &content_hash).await? {
        let response = pb::SendBundleResponse { bundle: Some(existing) };
        save_once(conn, &key, now, &response).await?;
        return Ok(response);
    }

    let id = uuid::Uuid::now_v7().to_string();
    let model = bundle::Model {
        id: id.clone(),
        sender_office: address.sender.as_str().to_owned(),
        sender_service_type: address.sender_type.clone(),
        receiver_office: address.receiver.as_str().to_owned(),
        receiver_service_type: address.receiver_type.clone(),
        service_month: address.month.clone().unwrap_or_default(),
        kind: request.bundle.as_ref().map_or(0, |b| b.kind),
        file_sequence: address.sequence.to_string(),
        content_hash: checked.content_hash.clone(),
        person_count: i32::try_from(checked.persons).unwrap_or(i32::MAX),
        insurer_numbers: checked.insurers.clone(),
        status: pb::BundleStatus::Sent as i32,
        sent_at: now,
        sent_by_subject: caller.subject.clone(),
        delivered_at: None,
        acknowledged_at: None,
        acknowledged_by_subject: None,
        acknowledge_note: String::new(),
        request_id: request.request_id.clone(),
    };
    let metadata = checked.files.clone();
    let response = pb::SendBundleResponse { bundle: Some(bundle_pb(&model, &metadata)) };
    let files: Vec<_> = checked
        .files
        .into_iter()
        .zip(request.files)
        .map(|(meta, file)| bundle_file::Model { bundle_id: id.clone(), content: file.content, ..meta })
        .collect();
    // A 予定 or 実績 is evidence that both offices serve each of its persons: published once
    // per person, office and month (docs/domain/access.md#registrations).
    let evidence = crate::domain::evidence::of_unit(
        address.kind,
        sender_side(address.kind),
        address.sender.as_str(),
        address.receiver.as_str(),
        address.month.as_deref(),
        &checked.person_keys,
        kaigo_platform::time::jst_date(now),
    );
    let tx = kaigo_platform::db::begin_write(conn).await.map_err(db)?;
    let written = async {
        store::insert_bundle(&tx, model, files).await?;
        store::evidence::insert_bundle_persons(&tx, &id, &checked.person_keys).await?;
        publish_evidence(&tx, &id, &evidence).await?;
        key.remember_message(&tx, now, &response).await?;
        let mut event = response.bundle.clone().unwrap_or_default();
        event.files.clear();
        enqueue(&tx, NewEvent { topic: BUNDLE_SENT.to_owned(), key: id.clone(), payload: event.encode_to_vec() })
            .await?;
        Ok::<_, sea_orm::DbErr>(())
    }
    .await;
    match written {
        Ok(()) => {
            tx.commit().await.map_err(db)?;
            Ok(response)
        }
        Err(err) if kaigo_platform::db::is_unique_violation(&err) => {
            // A concurrent send of the same unit or request won: answer as a retry would.
            drop(tx);
            if let Some(first) = key.replay_as(conn).await? {
                return Ok(first);
            }
            match existing_unit(conn, &address, &content_hash).await? {
                Some(existing) => Ok(pb::SendBundleResponse { bundle: Some(existing) }),
                None => Err(db(err)),
            }
        }
        Err(err) => Err(db(err)),
    }
}

/// The topic the registry consumes service evidence on (payload
/// `kaigo.registry.v1.ServiceEvidenceObserved`, key: the bundle id, never personal data).
pub const SERVICE_EVIDENCE: &str = "careplan.service_evidence";

/// Enqueues `careplan.service_evidence` for each piece of `evidence` not published before,
/// in the bundle's transaction.
async fn publish_evidence(
    tx: &sea_orm::DatabaseTransaction,
    bundle_id: &str,
    evidence: &[crate::domain::evidence::Evidence],
) -> Result<(), sea_orm::DbErr> {
    use crate::domain::evidence::OfficeKind;
    use kaigo_proto::kaigo::registry::v1 as registry;
    for e in evidence {
        if !store::evidence::note_evidence(tx, &e.insurer, &e.insured, &e.office, &e.month, bundle_id).await? {
            continue;
        }
        let kind = match e.kind {
            OfficeKind::CareOffice => registry::OrganizationKind::CareOffice,
            OfficeKind::Provider => registry::OrganizationKind::ServiceProvider,
        };
        let observed = registry::ServiceEvidenceObserved {
            person: Some(registry::PersonRef { insurer_number: e.insurer.clone(), insured_number: e.insured.clone() }),
            organization: Some(registry::Organization { kind: kind as i32, number: e.office.clone() }),
            service_date: Some(kaigo_proto::from_naive_date(e.date)),
        };
        let event = NewEvent {
            topic: SERVICE_EVIDENCE.to_owned(),
            key: bundle_id.to_owned(),
            payload: observed.encode_to_vec(),
        };
        enqueue(tx, event).await?;
    }
    Ok(())
}

/// The bundle already sent under this (sender, receiver, sequence): the same unit again is
/// answered with the first; other content under a used sequence is refused.
async fn existing_unit(
    conn: &DatabaseConnection,
    address: &Address,
    content_hash: &str,
) -> Result<Option<pb::Bundle>, ApiError> {
    let Some(found) = store::bundle_by_sequence(
        conn,
        address.sender.as_str(),
        address.receiver.as_str(),
        &address.sequence.to_string(),
    )
    .await
    .map_err(db)?
    else {
        return Ok(None);
    };
    if found.content_hash != content_hash {
        return Err(ApiError::already_exists(
            "SEQUENCE_ALREADY_SENT",
            "this file sequence was already sent to this receiver with other content",
        ));
    }
    let files = store::file_metadata(conn, &found.id).await.map_err(db)?;
    Ok(Some(bundle_pb(&found, &files)))
}

/// Stores the response for a request id unless a concurrent retry already did.
async fn save_once(
    conn: &impl sea_orm::ConnectionTrait,
    key: &IdempotencyKey,
    now: chrono::DateTime<chrono::Utc>,
    response: &pb::SendBundleResponse,
) -> Result<(), ApiError> {
    match key.remember_message(conn, now, response).await {
        Ok(()) => Ok(()),
        Err(err) if kaigo_platform::db::is_unique_violation(&err) => Ok(()),
        Err(err) => Err(db(err)),
    }
}
