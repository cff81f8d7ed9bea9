//! The mapping of stored rows to messages: bundles, months, timestamps and sides.

use chrono::{DateTime, Utc};
use kaigo_proto::kaigo::careplan::v1 as pb;
use kaigo_proto::kaigo::common::v1::{Actor, Role as ProtoRole, YearMonth};

use crate::domain::kind::{SenderSide, UnitKind};
use crate::store::entities::{bundle, bundle_file};

pub(crate) fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
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
