//! The life of an application: draft → submitted (within the programme's window, JST) →
//! under review → approved or rejected → paid. Plain rules; the store applies them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::programme::Programme;

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
}

impl Status {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::UnderReview => "under_review",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Paid => "paid",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Status> {
        [Status::Draft, Status::Submitted, Status::UnderReview, Status::Approved, Status::Rejected, Status::Paid]
            .into_iter()
            .find(|st| st.as_str() == s)
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
        Action::Update => (&[Draft], Draft, "APPLICATION_NOT_DRAFT", "only a draft's costs can change"),
        Action::Submit => (&[Draft], Submitted, "APPLICATION_NOT_DRAFT", "only a draft can be submitted"),
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
            &[Draft, Submitted, UnderReview],
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

/// Whether `today` (JST) is inside the programme's submission window.
pub fn check_window(programme: &Programme, today: NaiveDate) -> Result<(), NotAllowed> {
    if let Some(open) = programme.application_open_date
        && today < open
    {
        return Err(NotAllowed {
            reason: "APPLICATION_PERIOD_NOT_OPEN",
            message: format!("{} accepts applications from {open} (JST)", programme.programme_id),
        });
    }
    if today > programme.application_deadline {
        return Err(NotAllowed {
            reason: "APPLICATION_DEADLINE_PASSED",
            message: format!(
                "{} accepted applications until {} (JST)",
                programme.programme_id, programme.application_deadline
            ),
        });
    }
    Ok(())
}

/// Whether a draft can still be started: until the deadline (drafts may be prepared before
/// the window opens).
pub fn check_drafting(programme: &Programme, today: NaiveDate) -> Result<(), NotAllowed> {
    match check_window(programme, today) {
        Err(e) if e.reason == "APPLICATION_DEADLINE_PASSED" => Err(e),
        _ => Ok(()),
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
            ("2025-03-31", Err("APPLICATION_PERIOD_NOT_OPEN")),
            ("2025-04-01", Ok(())),
            ("2026-03-12", Ok(())),
            ("2026-03-13", Ok(())),
            ("2026-03-14", Err("APPLICATION_DEADLINE_PASSED")),
        ];
        for (today, expected) in cases {
            assert_eq!(check_window(&p, day(today)).map_err(|e| e.reason), expected, "{today}");
        }
        assert!(check_drafting(&p, day("2025-03-01")).is_ok());
        assert!(check_drafting(&p, day("2026-03-14")).is_err());
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
        ];
        for (from, action, expected) in cases {
            assert_eq!(next_status(from, action).map_err(|e| e.reason), expected, "{from:?} {action:?}");
        }
    }

    #[test]
    fn status_names_round_trip() {
        for s in
            [Status::Draft, Status::Submitted, Status::UnderReview, Status::Approved, Status::Rejected, Status::Paid]
        {
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
