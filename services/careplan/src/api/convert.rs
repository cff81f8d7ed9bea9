//! Shared pieces of the handlers: the caller's office, the read audit and the
//! mapping of stored rows to messages.

use chrono::{DateTime, Utc};
use kaigo_platform::audit::{ALLOWED, DENIED, NOT_FOUND, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::ApiError;
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_proto::kaigo::careplan::v1 as pb;
use kaigo_proto::kaigo::common::v1::{Actor, Role as ProtoRole, YearMonth};
use sea_orm::DbErr;

use super::Api;
use crate::domain::bundle::read_purpose;
use crate::domain::kind::{SenderSide, UnitKind};
use crate::store::{
    self,
    entities::{bundle, bundle_file},
};

pub(crate) fn db(err: DbErr) -> ApiError {
    ApiError::internal(err)
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
}

/// The office the caller acts for, when it is a care office or a provider.
pub(crate) fn caller_office(caller: &Caller) -> Result<&CareOfficeNumber, ApiError> {
    match (&caller.role, &caller.office) {
        (Role::CareOffice | Role::ServiceProvider, Some(office)) => Ok(office),
        _ => Err(ApiError::permission_denied(
            "OFFICE_CALLER_REQUIRED",
            "only care offices and service providers exchange care-plan bundles",
        )),
    }
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

pub(crate) fn side_role(side: SenderSide) -> ProtoRole {
    match side {
        SenderSide::CareOffice => ProtoRole::CareOffice,
        SenderSide::Provider => ProtoRole::ServiceProvider,
    }
}

/// Which side sends a unit kind (the plan units go office → provider, 実績 come back).
pub(crate) fn sender_side(kind: UnitKind) -> SenderSide {
    match kind {
        UnitKind::Actuals | UnitKind::ActualsDelete => SenderSide::Provider,
        _ => SenderSide::CareOffice,
    }
}

fn month_pb(text: &str) -> Option<YearMonth> {
    if text.len() != 6 {
        return None;
    }
    Some(YearMonth { year: text[..4].parse().ok()?, month: text[4..].parse().ok()? })
}

pub(crate) fn month_text(month: &YearMonth) -> String {
    format!("{:04}{:02}", month.year, month.month)
}

/// A stored bundle as a message.
pub(crate) fn bundle_pb(m: &bundle::Model, files: &[bundle_file::Model]) -> pb::Bundle {
    let kind = pb::SendUnitKind::try_from(m.kind).unwrap_or(pb::SendUnitKind::Unspecified);
    let side = crate::api::unit_kind(kind).map_or(SenderSide::CareOffice, sender_side);
    let receiver_side = match side {
        SenderSide::CareOffice => SenderSide::Provider,
        SenderSide::Provider => SenderSide::CareOffice,
    };
    pb::Bundle {
        bundle_id: m.id.clone(),
        sender_office_number: m.sender_office.clone(),
        sender_service_type: m.sender_service_type.clone(),
        receiver_office_number: m.receiver_office.clone(),
        receiver_service_type: m.receiver_service_type.clone(),
        service_month: month_pb(&m.service_month),
        kind: m.kind,
        file_sequence: m.file_sequence.clone(),
        files: files
            .iter()
            .map(|f| pb::BundleFile {
                file_name: f.file_name.clone(),
                kind: f.kind,
                csv_version: f.csv_version.clone(),
                size_bytes: f.size_bytes,
                sha256_hex: f.sha256_hex.clone(),
                record_count: f.record_count,
            })
            .collect(),
        person_count: m.person_count,
        status: m.status,
        send_time: Some(timestamp(m.sent_at)),
        deliver_time: m.delivered_at.map(timestamp),
        acknowledge_time: m.acknowledged_at.map(timestamp),
        sent_by: Some(Actor {
            role: side_role(side) as i32,
            subject: m.sent_by_subject.clone(),
            organization_number: m.sender_office.clone(),
        }),
        acknowledged_by: m.acknowledged_by_subject.as_ref().map(|subject| Actor {
            role: side_role(receiver_side) as i32,
            subject: subject.clone(),
            organization_number: m.receiver_office.clone(),
        }),
    }
}

/// Reads a bundle with its file metadata and checks the caller may see it: the sender, the
/// receiver, or an insurer auditing a bundle about its own insured. Every attempt is audited.
pub(crate) async fn readable_bundle(
    api: &Api,
    caller: &Caller,
    action: &'static str,
    bundle_id: &str,
) -> Result<(bundle::Model, Vec<bundle_file::Model>), ApiError> {
    let conn = &api.ctx.db;
    let Some(model) = store::get_bundle(conn, bundle_id).await.map_err(db)? else {
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
    let files = store::file_metadata(conn, bundle_id).await.map_err(db)?;
    Ok((model, files))
}
