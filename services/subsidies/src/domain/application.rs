//! The life of an application: draft → submitted (within its applicant kind's window, JST) →
//! under review → approved or rejected → paid; a submitted application, or one under review,
//! may be returned for correction (差戻し) and resubmitted. Plain rules; the store applies
//! them (docs/domain/subsidies.md#workflow).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::programme::{ApplicantKind, Programme};

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being prepared; editable.
    Draft,
    /// Submitted within the window.
    Submitted,
    /// Being reviewed by the operator.
    UnderReview,
    /// Approved with an amount.
    Approved,
    /// Rejected with a reason. Terminal.
    Rejected,
    /// Paid. Terminal.
    Paid,
    /// Returned to the applicant for correction (差戻し); editable, then resubmitted.
    Returned,
}

impl Status {
    /// Every state.
    pub const ALL: [Status; 7] = [
        Status::Draft,
        Status::Submitted,
        Status::UnderReview,
        Status::Approved,
        Status::Rejected,
        Status::Paid,
        Status::Returned,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::UnderReview => "under_review",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Paid => "paid",
            Status::Returned => "returned",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// What someone does to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Change the costs.
    Update,
    /// Submit the draft.
    Submit,
    /// Start the review.
    Review,
    /// Approve.
    Approve,
    /// Reject.
    Reject,
    /// Record the payment.
    Pay,
    /// Attach an evidence file.
    AttachEvidence,
    /// Return for correction (差戻し).
    Return,
}

impl Action {
    /// The name recorded in the application's history.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Update => "update",
            Action::Submit => "submit",
            Action::Review => "review",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Pay => "pay",
            Action::AttachEvidence => "attach_evidence",
            Action::Return => "return",
        }
    }
}

/// An action the application's state does not allow: the rule's reason code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAllowed {
    /// FAILED_PRECONDITION reason.
    pub reason: &'static str,
    /// Message naming the rule.
    pub message: String,
}

/// The state after `action`, or why `action` is not allowed from `from`.
pub fn next_status(from: Status, action: Action) -> Result<Status, NotAllowed> {
    use Status::*;
    let (allowed, to, reason, rule): (&[Status], Status, &'static str, &str) = match action {
        Action::Update => (
            &[Draft, Returned],
            from,
            "APPLICATION_NOT_DRAFT",
            "only a draft's or a returned application's costs can change",
        ),
        Action::Submit => (
            &[Draft, Returned],
            Submitted,
            "APPLICATION_NOT_DRAFT",
            "only a draft or a returned application can be submitted",
        ),
        Action::Return => (
            &[Submitted, UnderReview],
            Returned,
            "APPLICATION_NOT_PENDING",
            "only a submitted application or one under review can be returned",
        ),
        Action::Review => {
            (&[Submitted], UnderReview, "APPLICATION_NOT_SUBMITTED", "only a submitted application can be reviewed")
        }
        Action::Approve => (
            &[UnderReview],
            Approved,
            "APPLICATION_NOT_UNDER_REVIEW",
            "only an application under review can be approved",
        ),
        Action::Reject => (
            &[Submitted, UnderReview],
            Rejected,
            "APPLICATION_NOT_PENDING",
            "only a submitted application or one under review can be rejected",
        ),
        Action::Pay => (&[Approved], Paid, "APPLICATION_NOT_APPROVED", "only an approved application can be paid"),
        Action::AttachEvidence => (
            &[Draft, Submitted, UnderReview, Returned],
            from,
            "APPLICATION_CLOSED",
            "evidence can be attached until the decision",
        ),
    };
    if allowed.contains(&from) {
        Ok(to)
    } else {
        Err(NotAllowed { reason, message: format!("{rule}; this one is {}", from.as_str()) })
    }
}

/// Whether `today` (JST) is inside the submission window of `kind` under the programme.
pub fn check_window(programme: &Programme, kind: ApplicantKind, today: NaiveDate) -> Result<(), NotAllowed> {
    let Some(window) = programme.window(kind) else {
        return Err(NotAllowed {
            reason: "APPLICATION_PERIOD_NOT_OPEN",
            message: format!("{} has no submission window for {}", programme.programme_id, kind.as_str()),
        });
    };
    if let Some(open) = window.open_date
        && today < open
    {
        return Err(NotAllowed {
            reason: "APPLICATION_PERIOD_NOT_OPEN",
            message: format!("{} accepts {} applications from {open} (JST)", programme.programme_id, kind.as_str()),
        });
    }
    if today > window.deadline {
        return Err(NotAllowed {
            reason: "APPLICATION_DEADLINE_PASSED",
            message: format!(
                "{} accepted {} applications until {} (JST)",
                programme.programme_id,
                kind.as_str(),
                window.deadline
            ),
        });
    }
    Ok(())
}

/// Whether an application in state `from` may be submitted today: inside the window, or a
/// returned one after the deadline when the programme allows it.
pub fn check_submission(
    programme: &Programme,
    kind: ApplicantKind,
    from: Status,
    today: NaiveDate,
) -> Result<(), NotAllowed> {
    match check_window(programme, kind, today) {
        Err(e)
            if e.reason == "APPLICATION_DEADLINE_PASSED"
                && from == Status::Returned
                && programme.resubmit_returned_after_deadline =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Whether a draft can still be started or changed: until the deadline (drafts may be
/// prepared before the window opens); a returned application as [`check_submission`] says.
pub fn check_drafting(
    programme: &Programme,
    kind: ApplicantKind,
    from: Status,
    today: NaiveDate,
) -> Result<(), NotAllowed> {
    match check_submission(programme, kind, from, today) {
        Err(e) if e.reason == "APPLICATION_DEADLINE_PASSED" => Err(e),
        _ => Ok(()),
    }
}

/// Whether an applicant whose latest application to the programme is in state `latest` may
/// create a new one.
pub fn check_new_application(programme: &Programme, latest: Option<Status>) -> Result<(), NotAllowed> {
    match latest {
        None => Ok(()),
        Some(Status::Rejected) if programme.reapply_after_rejection => Ok(()),
        Some(Status::Rejected) => Err(NotAllowed {
            reason: "REAPPLICATION_NOT_ALLOWED",
            message: format!(
                "{} accepts one application per office or institution; this one was rejected",
                programme.programme_id
            ),
        }),
        Some(_) => Err(NotAllowed {
            reason: "APPLICATION_EXISTS",
            message: "this office or institution already has an application to this programme".to_owned(),
        }),
    }
}

/// The report's category key: the category ids sorted and joined with `+`, or the tier id.
pub fn category_key(category_ids: &[String]) -> String {
    let mut ids: Vec<&str> = category_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.join("+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::programme::parse_programme;

    fn fy2025() -> Programme {
        parse_programme("fy2025.toml", crate::catalogue::FY2025).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_deadline_day_is_inside_the_window_and_the_next_day_is_not() {
        let p = fy2025();
        let cases = [
            // The portal opened in August 2025.
            ("2025-07-31", Err("APPLICATION_PERIOD_NOT_OPEN")),
            ("2025-08-01", Ok(())),
            ("2026-03-12", Ok(())),
            ("2026-03-13", Ok(())),
            ("2026-03-14", Err("APPLICATION_DEADLINE_PASSED")),
        ];
        for (today, expected) in cases {
            assert_eq!(
                check_window(&p, ApplicantKind::CareOffice, day(today)).map_err(|e| e.reason),
                expected,
                "{today}"
            );
        }
        assert!(check_drafting(&p, ApplicantKind::CareOffice, Status::Draft, day("2025-03-01")).is_ok());
        assert!(check_drafting(&p, ApplicantKind::CareOffice, Status::Draft, day("2026-03-14")).is_err());
    }

    #[test]
    fn each_applicant_kind_has_its_own_window() {
        let mut p = fy2025();
        p.windows.insert(
            ApplicantKind::MedicalInstitution,
            crate::domain::programme::Window { open_date: Some(day("2025-10-01")), deadline: day("2026-01-30") },
        );
        let at = |kind, today| check_window(&p, kind, day(today)).map_err(|e| e.reason);
        assert_eq!(at(ApplicantKind::CareOffice, "2025-09-01"), Ok(()));
        assert_eq!(at(ApplicantKind::MedicalInstitution, "2025-09-30"), Err("APPLICATION_PERIOD_NOT_OPEN"));
        assert_eq!(at(ApplicantKind::MedicalInstitution, "2025-10-01"), Ok(()));
        assert_eq!(at(ApplicantKind::MedicalInstitution, "2026-01-31"), Err("APPLICATION_DEADLINE_PASSED"));
        assert_eq!(at(ApplicantKind::CareOffice, "2026-01-31"), Ok(()));
    }

    #[test]
    fn a_returned_application_is_resubmitted_after_the_deadline_only_when_the_programme_allows() {
        let mut p = fy2025();
        let late = day("2026-03-20");
        let kind = ApplicantKind::CareOffice;
        assert_eq!(check_submission(&p, kind, Status::Returned, late), Ok(()));
        assert!(check_drafting(&p, kind, Status::Returned, late).is_ok());
        assert_eq!(
            check_submission(&p, kind, Status::Draft, late).map_err(|e| e.reason),
            Err("APPLICATION_DEADLINE_PASSED")
        );
        p.resubmit_returned_after_deadline = false;
        assert_eq!(
            check_submission(&p, kind, Status::Returned, late).map_err(|e| e.reason),
            Err("APPLICATION_DEADLINE_PASSED")
        );
    }

    #[test]
    fn a_rejected_applicant_applies_again_only_when_the_programme_allows() {
        let mut p = fy2025();
        assert_eq!(check_new_application(&p, None), Ok(()));
        let reason = |p: &Programme, s| check_new_application(p, Some(s)).map_err(|e| e.reason);
        assert_eq!(reason(&p, Status::Rejected), Err("REAPPLICATION_NOT_ALLOWED"));
        assert_eq!(reason(&p, Status::Draft), Err("APPLICATION_EXISTS"));
        p.reapply_after_rejection = true;
        assert_eq!(reason(&p, Status::Rejected), Ok(()));
        assert_eq!(reason(&p, Status::Paid), Err("APPLICATION_EXISTS"));
        assert_eq!(reason(&p, Status::Returned), Err("APPLICATION_EXISTS"));
    }

    #[test]
    fn transitions_follow_the_workflow() {
        use Action::*;
        use Status::*;
        let cases = [
            (Draft, Update, Ok(Draft)),
            (Draft, Submit, Ok(Submitted)),
            (Submitted, Submit, Err("APPLICATION_NOT_DRAFT")),
            (Submitted, Update, Err("APPLICATION_NOT_DRAFT")),
            (Submitted, Review, Ok(UnderReview)),
            (Draft, Review, Err("APPLICATION_NOT_SUBMITTED")),
            (UnderReview, Approve, Ok(Approved)),
            (Submitted, Approve, Err("APPLICATION_NOT_UNDER_REVIEW")),
            (Submitted, Reject, Ok(Rejected)),
            (UnderReview, Reject, Ok(Rejected)),
            (Approved, Reject, Err("APPLICATION_NOT_PENDING")),
            (Approved, Pay, Ok(Paid)),
            (UnderReview, Pay, Err("APPLICATION_NOT_APPROVED")),
            (Paid, Pay, Err("APPLICATION_NOT_APPROVED")),
            (UnderReview, AttachEvidence, Ok(UnderReview)),
            (Approved, AttachEvidence, Err("APPLICATION_CLOSED")),
            (Rejected, Update, Err("APPLICATION_NOT_DRAFT")),
            (Submitted, Return, Ok(Returned)),
            (UnderReview, Return, Ok(Returned)),
            (Draft, Return, Err("APPLICATION_NOT_PENDING")),
            (Approved, Return, Err("APPLICATION_NOT_PENDING")),
            (Returned, Update, Ok(Returned)),
            (Returned, Submit, Ok(Submitted)),
            (Returned, Review, Err("APPLICATION_NOT_SUBMITTED")),
            (Returned, AttachEvidence, Ok(Returned)),
        ];
        for (from, action, expected) in cases {
            assert_eq!(next_status(from, action).map_err(|e| e.reason), expected, "{from:?} {action:?}");
        }
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("lost"), None);
    }

    #[test]
    fn category_keys_are_sorted_and_joined() {
        let ids = vec!["visit_day_short_stay".to_owned(), "residential".to_owned()];
        assert_eq!(category_key(&ids), "residential+visit_day_short_stay");
    }
}
