//! Relationships the registry records on its own behalf rather than at an organisation's or
//! insurer's request: the care-management offices eligibility recorded before the registry
//! existed (docs/domain/access.md#migrated), and the demo relationships of `kaigo dev`. Each
//! is a registration and a consent recorded "by the insurer", published as every change is.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_access::{Category, OrganizationKind};
use sea_orm::{ConnectionTrait, DbErr};

use crate::changes::{self, By};
use crate::domain::{ConsentSource, Evidence, categories_to_text};
use crate::store::{self, consent, registration};

/// One relationship to record.
#[derive(Debug, Clone)]
pub struct Recorded<'a> {
    /// The organisation's kind.
    pub kind: OrganizationKind,
    /// Its number.
    pub organization: &'a str,
    /// 保険者番号 of the person.
    pub insurer: &'a str,
    /// 被保険者番号 of the person.
    pub insured: &'a str,
    /// First day of the registration and the consent (JST).
    pub start: NaiveDate,
    /// What the registration rests on.
    pub evidence: Evidence,
    /// The categories the consent covers (none: no consent).
    pub categories: &'a [Category],
    /// The consent's purpose (`kaigo.common.v1.Purpose`).
    pub purpose: i32,
    /// A day of service evidence recorded with it: the no-service period
    /// (docs/domain/access.md#registrations) then runs from that day, not from a start long
    /// past.
    pub served_on: Option<NaiveDate>,
}

/// Records `r` unless the organisation already has an active registration for the person
/// (then nothing changes): a registration with `r.evidence` and a consent
/// `PAPER_RECORDED_BY_INSURER` to the organisation, both by `by`, inside `conn`'s
/// transaction. Returns whether it recorded anything.
pub async fn record(conn: &impl ConnectionTrait, r: &Recorded<'_>, by: &By, at: DateTime<Utc>) -> Result<bool, DbErr> {
    if store::active_registration(conn, r.organization, r.insurer, r.insured).await?.is_some() {
        return Ok(false);
    }
    let row = registration::Model {
        id: uuid::Uuid::now_v7().to_string(),
        version: 1,
        org_kind: r.kind.as_str().to_owned(),
        org_number: r.organization.to_owned(),
        insurer_number: r.insurer.to_owned(),
        insured_number: r.insured.to_owned(),
        start_date: r.start,
        evidence: r.evidence.as_str().to_owned(),
        card_confirmation_id: None,
        notification_id: None,
        registered_by_role: by.0.clone(),
        registered_by_subject: by.1.clone(),
        registered_by_org: by.2.clone(),
        created_at: at,
        last_service_on: None,
        ended_at: None,
        end_reason: None,
        ended_by_role: None,
        ended_by_subject: None,
        ended_by_org: None,
        end_note: None,
        active_key: Some(store::active_key(r.organization, r.insurer, r.insured)),
    };
    let row = changes::create_registration(conn, row, at).await?;
    if let Some(day) = r.served_on {
        changes::record_service(conn, row, day.max(r.start), &by.1, at).await?;
    }
    if r.categories.is_empty() {
        return Ok(true);
    }
    let categories: BTreeSet<Category> = r.categories.iter().copied().collect();
    let row = consent::Model {
        id: uuid::Uuid::now_v7().to_string(),
        version: 1,
        insurer_number: r.insurer.to_owned(),
        insured_number: r.insured.to_owned(),
        grantee_kind: r.kind.as_str().to_owned(),
        grantee_number: Some(r.organization.to_owned()),
        categories: categories_to_text(&categories),
        purpose: r.purpose,
        source: ConsentSource::PaperRecordedByInsurer.as_str().to_owned(),
        card_confirmation_id: None,
        valid_from: r.start,
        valid_until: None,
        recorded_by_role: by.0.clone(),
        recorded_by_subject: by.1.clone(),
        recorded_by_org: by.2.clone(),
        created_at: at,
        withdrawn_at: None,
        withdrawn_by_role: None,
        withdrawn_by_subject: None,
        withdrawn_by_org: None,
    };
    changes::create_consent(conn, row, at).await?;
    Ok(true)
}
