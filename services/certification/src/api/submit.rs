//! SubmitApplication: validation, who may file for whom, the person check (which also answers
//! the certification in force, from eligibility), and the rules of [`submission`] that need
//! stored facts (a renewal needs a current certification; one open application a person).

use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber};
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;

use super::{Inner, actor, convert};
use crate::domain::record::{Applicant, ApplicationRecord, PreviousCertification, TransferCertificate};
use crate::domain::submission;
use crate::domain::types::{ApplicationType, CareLevel, StepKind};
use crate::domain::workflow::Workflow;
use crate::people::PersonStatus;
use crate::store::{self, NewStep};

/// Longest free-text fields accepted.
pub(super) const MAX_TEXT: usize = 1000;

/// The validated parts of a submission.
struct Valid {
    insurer: InsurerNumber,
    insured: InsuredNumber,
    kind: ApplicationType,
    application_date: chrono::NaiveDate,
    applicant: Applicant,
    applicant_kind: pb::ApplicantKind,
    acting_office: Option<CareOfficeNumber>,
    /// `InsuredCategory` (0 when not given; the insurer must give it).
    insured_category: i32,
    consent_reference: String,
    /// The 受給資格証明書 of a 転入.
    transfer: Option<TransferCertificate>,
}

fn validate(request: &pb::SubmitApplicationRequest, today: chrono::NaiveDate) -> Result<Valid, ApiError> {
    let mut v = Violations::new();
    check_request_id(&mut v, "request_id", &request.request_id);
    let Some(app) = &request.application else {
        v.add("application", "required");
        return Err(ApiError::invalid_argument(v));
    };
    let insurer = v.check("application.insurer_number", InsurerNumber::parse(&app.insurer_number));
    let insured = v.check("application.insured_number", InsuredNumber::parse(&app.insured_number));
    let kind = convert::application_type_from(app.r#type);
    if kind.is_none() {
        v.add("application.type", "required: NEW, RENEWAL, LEVEL_CHANGE, EX_OFFICIO or TRANSFER");
    }
    let application_date = match &app.application_date {
        None => {
            v.add("application.application_date", "required");
            None
        }
        Some(d) => match convert::date(d) {
            Ok(d) if d > today => {
                v.add("application.application_date", "must not be in the future (JST)");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                v.add("application.application_date", e);
                None
            }
        },
    };
    let mut applicant_kind = pb::ApplicantKind::Unspecified;
    let mut applicant = None;
    match &app.applicant {
        // 職権: the insurer itself is the applicant.
        None if kind == Some(ApplicationType::ExOfficio) => {
            applicant = Some(Applicant {
                kind: 0,
                family_member_name: String::new(),
                family_relationship: String::new(),
                office_number: String::new(),
            });
        }
        None => v.add("application.applicant", "required"),
        Some(a) => {
            applicant_kind = pb::ApplicantKind::try_from(a.kind).unwrap_or(pb::ApplicantKind::Unspecified);
            let office_kind = matches!(
                applicant_kind,
                pb::ApplicantKind::CareManagementOffice
                    | pb::ApplicantKind::CommunitySupportCenter
                    | pb::ApplicantKind::Facility
            );
            if applicant_kind == pb::ApplicantKind::Unspecified {
                v.add("application.applicant.kind", "required");
            }
            if applicant_kind == pb::ApplicantKind::Family {
                if a.family_member_name.trim().is_empty() {
                    v.add("application.applicant.family_member_name", "required for a family applicant");
                }
            } else if !a.family_member_name.is_empty() || !a.family_relationship.is_empty() {
                v.add("application.applicant.family_member_name", "only for a family applicant");
            }
            kaigo_platform::validate::max_chars(
                &mut v,
                "application.applicant.family_member_name",
                &a.family_member_name,
                100,
            );
            kaigo_platform::validate::max_chars(
                &mut v,
                "application.applicant.family_relationship",
                &a.family_relationship,
                50,
            );
            if office_kind {
                v.check("application.applicant.office_number", CareOfficeNumber::parse(&a.office_number));
            } else if !a.office_number.is_empty() {
                v.add("application.applicant.office_number", "only for an office, centre or facility applicant");
            }
            applicant = Some(Applicant {
                kind: a.kind,
                family_member_name: a.family_member_name.clone(),
                family_relationship: a.family_relationship.clone(),
                office_number: a.office_number.clone(),
            });
        }
    }
    let acting_office = if app.acting_office_number.is_empty() {
        None
    } else {
        v.check("application.acting_office_number", CareOfficeNumber::parse(&app.acting_office_number))
    };
    if app.consent_reference.chars().count() > 200 {
        v.add("application.consent_reference", "at most 200 characters");
    }
    if common::InsuredCategory::try_from(app.insured_category).is_err() {
        v.add("application.insured_category", "unknown value");
    }
    let transfer = match (&app.transfer, kind) {
        (Some(t), Some(ApplicationType::Transfer)) => transfer(&mut v, t, insurer.as_ref(), application_date),
        (None, Some(ApplicationType::Transfer)) => {
            v.add("application.transfer", "required for a 転入 (the 受給資格証明書)");
            None
        }
        (Some(_), _) => {
            v.add("application.transfer", "only for APPLICATION_TYPE_TRANSFER");
            None
        }
        (None, _) => None,
    };
    // A field missing here has its violation recorded above.
    let (Some(insurer), Some(insured), Some(kind), Some(application_date), Some(applicant)) =
        (insurer, insured, kind, application_date, applicant)
    else {
        return Err(ApiError::invalid_argument(v));
    };
    v.into_result()?;
    Ok(Valid {
        insurer,
        insured,
        kind,
        application_date,
        applicant,
        applicant_kind,
        acting_office,
        insured_category: app.insured_category,
        consent_reference: app.consent_reference.clone(),
        transfer,
    })
}

/// The 受給資格証明書 of a 転入 (docs/domain/certification.md#transfer), each problem a violation.
fn transfer(
    v: &mut Violations,
    t: &pb::TransferCertificate,
    insurer: Option<&InsurerNumber>,
    application_date: Option<chrono::NaiveDate>,
) -> Option<TransferCertificate> {
    let previous =
        v.check("application.transfer.previous_insurer_number", InsurerNumber::parse(&t.previous_insurer_number));
    if previous.is_some() && previous.as_ref() == insurer {
        v.add("application.transfer.previous_insurer_number", "must be the previous municipality, not this insurer");
    }
    let date = |v: &mut Violations, field: &str, d: Option<&kaigo_proto::google::r#type::Date>| match d {
        None => {
            v.add(field, "required");
            None
        }
        Some(d) => v.check(field, convert::date(d)),
    };
    let moved = date(v, "application.transfer.move_in_date", t.move_in_date.as_ref());
    if let (Some(moved), Some(applied)) = (moved, application_date)
        && moved > applied
    {
        v.add("application.transfer.move_in_date", "must not be after the application date");
    }
    let level = CareLevel::from_wire(t.care_level).filter(|l| *l != CareLevel::NotApplicable);
    if level.is_none() {
        v.add("application.transfer.care_level", "required: 要支援1–2 or 要介護1–5");
    }
    let (start, end) = match &t.validity {
        None => {
            v.add("application.transfer.validity", "required");
            (None, None)
        }
        Some(p) => (
            date(v, "application.transfer.validity.start", p.start.as_ref()),
            date(v, "application.transfer.validity.end", p.end.as_ref()),
        ),
    };
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        v.add("application.transfer.validity.end", "must not be before the start");
    }
    Some(TransferCertificate {
        previous_insurer_number: previous?.as_str().to_owned(),
        move_in_date: moved?,
        level: level?,
        validity_start: start?,
        validity_end: end?,
    })
}

/// Who may file: the insurer for its own insured; a care office, centre or facility filing for
/// the person (申請代行) as itself; the person on-line for themselves.
fn authorize(caller: &Caller, valid: &Valid) -> Result<(), ApiError> {
    let denied = || ApiError::permission_denied("SUBMIT_NOT_ALLOWED", "the caller may not file this application");
    if valid.kind == ApplicationType::ExOfficio && caller.role != Role::Insurer {
        return Err(denied());
    }
    match caller.role {
        Role::Insurer => {
            if caller.insurer.as_ref() != Some(&valid.insurer) {
                return Err(denied());
            }
            if valid.insured_category == common::InsuredCategory::Unspecified as i32 {
                let mut v = Violations::new();
                v.add("application.insured_category", "required when the insurer submits");
                v.into_result()?;
            }
            Ok(())
        }
        Role::CareOffice => {
            let own = caller.office.as_ref();
            let office_applicant = matches!(
                valid.applicant_kind,
                pb::ApplicantKind::CareManagementOffice
                    | pb::ApplicantKind::CommunitySupportCenter
                    | pb::ApplicantKind::Facility
            );
            if own.is_none()
                || !office_applicant
                || own.map(|o| o.as_str()) != Some(valid.applicant.office_number.as_str())
                || valid.acting_office.as_ref() != own
            {
                return Err(denied());
            }
            Ok(())
        }
        Role::InsuredPerson if valid.applicant_kind == pb::ApplicantKind::Self_ => Ok(()),
        _ => Err(denied()),
    }
}

impl Inner {
    pub(crate) async fn submit(
        &self,
        caller: &Caller,
        request: &pb::SubmitApplicationRequest,
    ) -> Result<pb::SubmitApplicationResponse, ApiError> {
        if !matches!(caller.role, Role::Insurer | Role::CareOffice | Role::InsuredPerson) {
            return Err(ApiError::permission_denied("SUBMIT_NOT_ALLOWED", "the caller may not file applications"));
        }
        let now = self.clock.now();
        let today = self.clock.today_jst();
        let valid = validate(request, today)?;
        authorize(caller, &valid)?;
        // A retry of a stored submission gets its answer without asking eligibility again (the
        // store checks once more under the person's lock).
        let key = IdempotencyKey::new("SubmitApplication", caller, &request.request_id, request);
        if let Some(stored) = key.replay_as(&self.db).await? {
            return Ok(stored);
        }
        let person = self.people.lookup(&valid.insurer, &valid.insured, valid.application_date).await?;
        match person.status {
            PersonStatus::Known => {}
            PersonStatus::Unknown => {
                return Err(ApiError::failed_precondition(
                    "INSURED_PERSON_UNKNOWN",
                    "the insurer has no insured person with this number",
                ));
            }
            PersonStatus::NotQualified => {
                return Err(ApiError::failed_precondition(
                    "INSURED_PERSON_NOT_QUALIFIED",
                    "the person is not insured by this insurer on the application date (qualification lost or not yet acquired)",
                ));
            }
        }
        let record = ApplicationRecord {
            id: uuid::Uuid::now_v7().to_string(),
            insurer_number: valid.insurer.as_str().to_owned(),
            insured_number: valid.insured.as_str().to_owned(),
            kind: valid.kind,
            application_date: valid.application_date,
            applicant: valid.applicant,
            acting_office_number: valid.acting_office.map(|o| o.as_str().to_owned()),
            insured_category: valid.insured_category,
            previous: None,
            in_force_until: None,
            transfer: valid.transfer,
            consent_reference: valid.consent_reference,
            person_subject: (caller.role == Role::InsuredPerson).then(|| caller.subject.clone()),
            workflow: Workflow::RECEIVED,
            survey: Default::default(),
            opinion: Default::default(),
            primary: None,
            board: None,
            decision: None,
            notified_date: None,
            closure: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let first = NewStep {
            kind: StepKind::Received,
            occur_time: now,
            actor: actor(caller),
            summary: format!("application received ({:?}) dated {}", valid.kind, valid.application_date),
        };
        let at_risk = self.settings.at_risk_day;
        let policy = submission::SubmissionPolicy {
            renewal_on_time_within_validity: self.settings.renewal_on_time_within_validity,
            transfer_window_days: self.settings.transfer_window_days,
        };
        let written = store::submit(
            &self.db,
            &key,
            record,
            first,
            move |record, own, open| {
                let own = own.map(|c| PreviousCertification { level: c.level, validity_end: c.validity_end });
                let current = submission::current_certification(person.in_force, own);
                Ok(submission::admit(record, current, open, &policy)?)
            },
            |loaded| {
                prost::Message::encode_to_vec(&pb::SubmitApplicationResponse {
                    application: Some(convert::application(loaded, today, at_risk, true)),
                })
            },
        )
        .await?;
        self.finish(caller, written).await
    }
}
