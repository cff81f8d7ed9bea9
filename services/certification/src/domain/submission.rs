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

/// Admits `record` given the certification in force (`current`) and whether the person has an
/// open application (`open`); a renewal or level change remembers the certification it
/// starts from, and a renewal, when `renewal_on_time_within_validity`, that a decision up to
/// that certification's end is on time (docs/domain/certification.md#renewal-deadline).
pub fn admit(
    record: &mut ApplicationRecord,
    current: Option<PreviousCertification>,
    open: bool,
    renewal_on_time_within_validity: bool,
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
            if renewal_on_time_within_validity {
                record.in_force_until = deadline::renewal_in_force_until(record.kind, Some(c.validity_end));
            }
            record.previous = Some(c);
            Ok(())
        }
        (false, Some(_)) => Err(Refusal::rule(
            "CURRENT_CERTIFICATION_EXISTS",
            "the person has a certification in force; file a renewal or a level change instead",
        )),
        (false, None) => Ok(()),
    }
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
        assert_eq!(admit(&mut renewal.clone(), None, false, true).unwrap_err().reason, "NO_CURRENT_CERTIFICATION");
        let mut plain = renewal.clone();
        admit(&mut renewal, Some(certified(CareLevel::Care2)), false, true).unwrap();
        assert_eq!(renewal.previous, Some(certified(CareLevel::Care2)));
        assert_eq!(renewal.in_force_until, Some(d(2026, 6, 30)), "on time while the certification runs");
        admit(&mut plain, Some(certified(CareLevel::Care2)), false, false).unwrap();
        assert_eq!(plain.in_force_until, None, "the setting off: the 30 days");
        let mut change = application(ApplicationType::LevelChange);
        assert_eq!(admit(&mut change.clone(), None, false, true).unwrap_err().reason, "NO_CURRENT_CERTIFICATION");
        admit(&mut change, Some(certified(CareLevel::Care2)), false, true).unwrap();
        assert_eq!(change.in_force_until, None, "a level change keeps the 30 days");
        let mut new = application(ApplicationType::New);
        let refused = admit(&mut new.clone(), Some(certified(CareLevel::Support1)), false, true).unwrap_err();
        assert_eq!(refused.reason, "CURRENT_CERTIFICATION_EXISTS");
        admit(&mut new, None, false, true).unwrap();
        assert_eq!(new.previous, None);
        let refused = admit(&mut application(ApplicationType::New), None, true, true).unwrap_err();
        assert_eq!(refused.reason, "OPEN_APPLICATION_EXISTS");
    }
}
