//! Demo data for `kaigo dev`: one application of the demo person at 水上村 (435073), in progress
//! (survey scheduled, opinion requested), with a care office acting for the person, so that
//! `GetApplicationProgress` and `WatchApplication` have something to show.
//!
//! Idempotent: when the demo person already has an application, nothing is written.

use std::sync::Arc;

use chrono::Days;
use kaigo_platform::audit::{AuditOptions, Auditor};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::ids::InsurerNumber;
use kaigo_platform::service::{ServiceContext, StartError};
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;

use crate::Config;
use crate::api::{Inner, convert};
use crate::people::AcceptingDirectory;
use crate::signals::StepSignals;
use crate::store::{self, ListFilter, ListOrder};

/// 保険者番号 of the demo insurer: 熊本県 水上村 (docs/domain/identifiers.md#test-values, a real,
/// confirmed number).
pub const DEMO_INSURER_NUMBER: &str = "435073";
/// 被保険者番号 of the demo person (a made-up number; the same one the README's first
/// CheckEligibility call uses).
pub const DEMO_INSURED_NUMBER: &str = "0000000001";
/// 介護保険事業所番号 of the demo care office acting for the person (熊本, class 7, valid check
/// digit; made up).
pub const DEMO_OFFICE_NUMBER: &str = "4371000128";
/// 医療機関コード asked for the demo opinion: the institution documents seeds its request for, so
/// one demo medical institution sees the request in both services (check digit valid).
const DEMO_INSTITUTION: &str = "1311234569";

/// Fixed request ids: a crash halfway and a rerun continue rather than duplicate.
const SUBMIT_ID: &str = "0190a000-0000-7000-8000-00000000d001";
const SURVEY_ID: &str = "0190a000-0000-7000-8000-00000000d002";
const OPINION_ID: &str = "0190a000-0000-7000-8000-00000000d003";

pub(crate) async fn seed(ctx: &ServiceContext, config: &Config) -> Result<(), StartError> {
    let clock = ctx.clock.clone();
    let today = clock.today_jst();
    let filter = ListFilter {
        insurer_number: Some(DEMO_INSURER_NUMBER.to_owned()),
        acting_office_number: None,
        insured_number: Some(DEMO_INSURED_NUMBER.to_owned()),
        persons: None,
        statuses: Vec::new(),
        deadline_statuses: Vec::new(),
        window: None,
        order: ListOrder::ApplicationDateDesc,
        today,
        at_risk_day: config.at_risk_day,
    };
    let (existing, _) = store::list(&ctx.db, &filter, 0, 1).await?;
    if let Some(app) = existing.first()
        && app.version >= 3
    {
        return Ok(());
    }
    // The seed runs before any service serves (kaigo dev binds the in-process routes once all
    // have started), and eligibility has just seeded this very person: no check to make.
    // Nothing the seed does reads a record, so its auditor stays idle.
    let auditor = Auditor::spawn(ctx.db.clone(), &ctx.background, clock.clone(), AuditOptions::default());
    let inner = Inner {
        db: ctx.db.clone(),
        reads: ctx.reads.clone(),
        auditor,
        clock,
        people: Arc::new(AcceptingDirectory),
        signals: StepSignals::new(ctx.redis.clone()),
        settings: config.settings(),
        relay_waker: None,
        gate: kaigo_platform::access::Gate::builtin(crate::NAME, &config.access),
    };
    let insurer = Caller {
        subject: "kaigo-dev-seed".to_owned(),
        role: Role::Insurer,
        insurer: Some(InsurerNumber::parse(DEMO_INSURER_NUMBER)?),
        office: None,
        institution: None,
        scopes: Vec::new(),
        consents: Vec::new(),
    };
    let days_ago = |n| today.checked_sub_days(Days::new(n)).unwrap_or(today);
    let submitted = match existing.into_iter().next() {
        Some(record) => (record.id, record.version),
        None => {
            let request = pb::SubmitApplicationRequest {
                request_id: SUBMIT_ID.to_owned(),
                application: Some(pb::Application {
                    insurer_number: DEMO_INSURER_NUMBER.to_owned(),
                    insured_number: DEMO_INSURED_NUMBER.to_owned(),
                    r#type: pb::ApplicationType::New as i32,
                    application_date: Some(convert::wire_date(days_ago(12))),
                    applicant: Some(pb::Applicant {
                        kind: pb::ApplicantKind::CareManagementOffice as i32,
                        office_number: DEMO_OFFICE_NUMBER.to_owned(),
                        ..Default::default()
                    }),
                    acting_office_number: DEMO_OFFICE_NUMBER.to_owned(),
                    insured_category: common::InsuredCategory::First as i32,
                    ..Default::default()
                }),
            };
            let app = inner.submit(&insurer, &request).await?.application.unwrap_or_default();
            (app.application_id, app.version)
        }
    };
    let (id, mut version) = submitted;
    if version == 1 {
        let request = pb::RecordSurveyScheduledRequest {
            request_id: SURVEY_ID.to_owned(),
            application_id: id.clone(),
            expected_version: version,
            scheduled_date: Some(convert::wire_date(days_ago(5))),
            surveyor: "水上村 認定調査員".to_owned(),
            occur_time: None,
        };
        version = inner.survey_scheduled(&insurer, &request).await?.application.map_or(version, |a| a.version);
    }
    if version == 2 {
        let request = pb::RecordOpinionRequestedRequest {
            request_id: OPINION_ID.to_owned(),
            application_id: id,
            expected_version: version,
            institution_code: DEMO_INSTITUTION.to_owned(),
            opinion_request_id: String::new(),
            occur_time: None,
        };
        inner.opinion_requested(&insurer, &request).await?;
    }
    tracing::info!(insurer = DEMO_INSURER_NUMBER, "certification demo application ready");
    Ok(())
}

#[cfg(test)]
mod tests {
    use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, MedicalInstitutionCode};

    use super::*;

    #[test]
    fn demo_identifiers_are_valid() {
        assert!(InsurerNumber::parse(DEMO_INSURER_NUMBER).is_ok());
        assert!(InsuredNumber::parse(DEMO_INSURED_NUMBER).is_ok());
        assert!(CareOfficeNumber::parse(DEMO_OFFICE_NUMBER).is_ok());
        assert!(MedicalInstitutionCode::parse(DEMO_INSTITUTION).is_ok());
    }
}
