//! The rules a new application must pass against stored facts (docs/domain/certification.md#process):
//! one open application a person, and a certification in force for a renewal or a level change
//! — and none for a new application.
//!
//! The certification in force comes from eligibility, the source of truth
//! (docs/domain/certification.md#current-certification): everyone certified before the platform
//! went live, or imported into eligibility, has a certification there that this service never
//! decided. Only when the eligibility check is off (`certification.eligibility_url` empty) do
//! this service's own decisions answer.

use super::deadline;
use super::record::{ApplicationRecord, PreviousCertification};
use super::workflow::Refusal;

/// Where the certification in force on the application date was looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InForce {
    /// Nowhere outside this service (the eligibility check is off): its own decisions answer.
    NotAsked,
    /// The insurer's record in eligibility: the 要支援 or 要介護 certification in force on the
    /// date, or none (never certified, expired, 非該当 or 事業対象者 only).
    Eligibility(Option<PreviousCertification>),
}

/// The certification the application works from: eligibility's answer when it was asked,
/// otherwise the one this service decided (`own`).
pub fn current_certification(in_force: InForce, own: Option<PreviousCertification>) -> Option<PreviousCertification> {
    match in_force {
        InForce::NotAsked => own,
        InForce::Eligibility(current) => current,
    }
}

/// The operator's settings of the submission rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmissionPolicy {
    /// A renewal decided inside the validity it renews is on time
    /// (docs/domain/certification.md#renewal-deadline).
    pub renewal_on_time_within_validity: bool,
    /// Days after moving in within which a 転入 carries the previous certification over
    /// (docs/domain/certification.md#transfer).
    pub transfer_window_days: u32,
}

impl Default for SubmissionPolicy {
    fn default() -> Self {
        Self { renewal_on_time_within_validity: true, transfer_window_days: 14 }
    }
}

/// Admits `record` given the certification in force (`current`) and whether the person has an
/// open application (`open`); a renewal or level change remembers the certification it
/// starts from, and a renewal, under `policy`, that a decision up to that certification's end
/// is on time (docs/domain/certification.md#renewal-deadline). A 転入 must come within the
/// window with a certificate still in force, and is then carried over.
pub fn admit(
    record: &mut ApplicationRecord,
    current: Option<PreviousCertification>,
    open: bool,
    policy: &SubmissionPolicy,
) -> Result<(), Refusal> {
    if open {
        return Err(Refusal::rule(
            "OPEN_APPLICATION_EXISTS",
            "the person already has an open application with this insurer; withdraw it or wait for its decision",
        ));
    }
    match (record.kind.needs_current_certification(), current) {
        (true, None) => Err(Refusal::rule(
            "NO_CURRENT_CERTIFICATION",
            "a renewal or level change needs a certification in force on the application date; file a new application",
        )),
        (true, Some(c)) => {
            if policy.renewal_on_time_within_validity {
                record.in_force_until = deadline::renewal_in_force_until(record.kind, Some(c.validity_end));
            }
            record.previous = Some(c);
            Ok(())
        }
        (false, Some(_)) => Err(Refusal::rule(
            "CURRENT_CERTIFICATION_EXISTS",
            "the person has a certification in force; file a renewal or a level change instead",
        )),
        (false, None) => admit_transfer(record, policy),
    }
}

/// A 転入's 受給資格証明書 against the window and the application date
/// (docs/domain/certification.md#transfer); other kinds pass.
fn admit_transfer(record: &mut ApplicationRecord, policy: &SubmissionPolicy) -> Result<(), Refusal> {
    let Some(t) = &record.transfer else { return Ok(()) };
    let days = (record.application_date - t.move_in_date).num_days();
    if days > i64::from(policy.transfer_window_days) {
        return Err(Refusal::rule(
            "TRANSFER_WINDOW_PASSED",
            format!(
                "a 転入 carries the certification over only when filed within {} days of moving in; file a new application",
                policy.transfer_window_days
            ),
        )
        .with("window_days", policy.transfer_window_days.to_string()));
    }
    if t.validity_end < record.application_date {
        return Err(Refusal::rule(
            "TRANSFER_CERTIFICATE_EXPIRED",
            "the 受給資格証明書's validity ended before the application; file a new application",
        ));
    }
    record.workflow = super::workflow::Workflow::CARRIED_OVER;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::record::tests_support::application;
    use crate::domain::types::{ApplicationType, CareLevel};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const POLICY: SubmissionPolicy =
        SubmissionPolicy { renewal_on_time_within_validity: true, transfer_window_days: 14 };

    fn certified(level: CareLevel) -> PreviousCertification {
        PreviousCertification { level, validity_end: d(2026, 6, 30) }
    }

    #[test]
    fn eligibility_answers_when_asked_and_own_decisions_only_when_not() {
        let own = Some(certified(CareLevel::Care1));
        let imported = Some(certified(CareLevel::Care3));
        assert_eq!(current_certification(InForce::Eligibility(imported.clone()), own.clone()), imported);
        // Eligibility knows of none (expired, or ended by a later record): none, whatever was decided here.
        assert_eq!(current_certification(InForce::Eligibility(None), own.clone()), None);
        assert_eq!(current_certification(InForce::NotAsked, own.clone()), own);
    }

    #[test]
    fn renewals_need_a_certification_in_force_and_new_applications_none() {
        let mut renewal = application(ApplicationType::Renewal);
        assert_eq!(admit(&mut renewal.clone(), None, false, &POLICY).unwrap_err().reason, "NO_CURRENT_CERTIFICATION");
        let mut plain = renewal.clone();
        admit(&mut renewal, Some(certified(CareLevel::Care2)), false, &POLICY).unwrap();
        assert_eq!(renewal.previous, Some(certified(CareLevel::Care2)));
        assert_eq!(renewal.in_force_until, Some(d(2026, 6, 30)), "on time while the certification runs");
        admit(
            &mut plain,
            Some(certified(CareLevel::Care2)),
            false,
            &SubmissionPolicy { renewal_on_time_within_validity: false, ..POLICY },
        )
        .unwrap();
        assert_eq!(plain.in_force_until, None, "the setting off: the 30 days");
        let mut change = application(ApplicationType::LevelChange);
        assert_eq!(admit(&mut change.clone(), None, false, &POLICY).unwrap_err().reason, "NO_CURRENT_CERTIFICATION");
        admit(&mut change, Some(certified(CareLevel::Care2)), false, &POLICY).unwrap();
        assert_eq!(change.in_force_until, None, "a level change keeps the 30 days");
        let mut new = application(ApplicationType::New);
        let refused = admit(&mut new.clone(), Some(certified(CareLevel::Support1)), false, &POLICY).unwrap_err();
        assert_eq!(refused.reason, "CURRENT_CERTIFICATION_EXISTS");
        admit(&mut new, None, false, &POLICY).unwrap();
        assert_eq!(new.previous, None);
        let refused = admit(&mut application(ApplicationType::New), None, true, &POLICY).unwrap_err();
        assert_eq!(refused.reason, "OPEN_APPLICATION_EXISTS");
    }

    #[test]
    fn a_transfer_within_the_window_is_carried_over() {
        use crate::domain::record::TransferCertificate;
        // Filed 2026-04-01 (the test application's date).
        let transfer = |moved: NaiveDate, end: NaiveDate| {
            let mut r = application(ApplicationType::Transfer);
            r.transfer = Some(TransferCertificate {
                previous_insurer_number: "131016".into(),
                move_in_date: moved,
                level: CareLevel::Care2,
                validity_start: d(2025, 10, 1),
                validity_end: end,
            });
            r
        };
        let mut on_the_last_day = transfer(d(2026, 3, 18), d(2026, 9, 30));
        admit(&mut on_the_last_day, None, false, &POLICY).unwrap();
        assert!(on_the_last_day.workflow.carried_over);
        let late = admit(&mut transfer(d(2026, 3, 17), d(2026, 9, 30)), None, false, &POLICY).unwrap_err();
        assert_eq!(late.reason, "TRANSFER_WINDOW_PASSED");
        let wider = SubmissionPolicy { transfer_window_days: 30, ..POLICY };
        admit(&mut transfer(d(2026, 3, 17), d(2026, 9, 30)), None, false, &wider).unwrap();
        let expired = admit(&mut transfer(d(2026, 3, 25), d(2026, 3, 31)), None, false, &POLICY).unwrap_err();
        assert_eq!(expired.reason, "TRANSFER_CERTIFICATE_EXPIRED");
        // Already certified here: no transfer.
        let exists =
            admit(&mut transfer(d(2026, 3, 25), d(2026, 9, 30)), Some(certified(CareLevel::Care1)), false, &POLICY);
        assert_eq!(exists.unwrap_err().reason, "CURRENT_CERTIFICATION_EXISTS");
        // 職権 needs a certification in force, like a level change.
        let mut ex_officio = application(ApplicationType::ExOfficio);
        assert_eq!(
            admit(&mut ex_officio.clone(), None, false, &POLICY).unwrap_err().reason,
            "NO_CURRENT_CERTIFICATION"
        );
        admit(&mut ex_officio, Some(certified(CareLevel::Care1)), false, &POLICY).unwrap();
        assert_eq!(ex_officio.in_force_until, None, "only a renewal keeps to the validity");
    }
}
