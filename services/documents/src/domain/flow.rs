//! The workflow of a request and its opinion versions: who may move it and in which order.
//!
//! A request is REQUESTED until the institution submits (SUBMITTED), then RECEIVED once the
//! insurer takes it in; CANCELLED ends it. Every submission is a new immutable version: the
//! first carries no link, each correction names the latest version (`previous_opinion_id`),
//! which becomes SUPERSEDED. A correction after receipt sends the request back to SUBMITTED,
//! so the insurer receives the corrected version too.

use kaigo_proto::kaigo::documents::v1::{OpinionRequestStatus, OpinionStatus};

/// A workflow rule the call breaks; each maps to FAILED_PRECONDITION with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowError {
    /// The request was cancelled.
    RequestCancelled,
    /// Only REQUESTED requests can be cancelled.
    RequestNotOpen,
    /// A version exists and the submission does not name it (a correction must link).
    CorrectionLinkRequired,
    /// The link names a version that is not the latest of this request.
    PreviousNotLatest,
    /// The link names a version but nothing was submitted yet.
    NothingToCorrect,
    /// The insurer receives only the latest version.
    OpinionSuperseded,
    /// That version was already received.
    AlreadyReceived,
    /// Another request for this application is still open.
    OpenRequestExists,
}

impl FlowError {
    /// The stable ErrorInfo reason.
    pub fn reason(self) -> &'static str {
        match self {
            FlowError::RequestCancelled => "OPINION_REQUEST_CANCELLED",
            FlowError::RequestNotOpen => "OPINION_REQUEST_NOT_OPEN",
            FlowError::CorrectionLinkRequired => "CORRECTION_LINK_REQUIRED",
            FlowError::PreviousNotLatest => "PREVIOUS_OPINION_NOT_LATEST",
            FlowError::NothingToCorrect => "NO_PREVIOUS_OPINION",
            FlowError::OpinionSuperseded => "OPINION_SUPERSEDED",
            FlowError::AlreadyReceived => "OPINION_ALREADY_RECEIVED",
            FlowError::OpenRequestExists => "OPINION_REQUEST_ALREADY_OPEN",
        }
    }

    /// A developer-facing explanation (no personal data).
    pub fn message(self) -> &'static str {
        match self {
            FlowError::RequestCancelled => "the opinion request was cancelled by the insurer",
            FlowError::RequestNotOpen => "only a request still awaiting its opinion (REQUESTED) can be cancelled",
            FlowError::CorrectionLinkRequired => {
                "an opinion was already submitted for this request; a correction must name it in previous_opinion_id"
            }
            FlowError::PreviousNotLatest => "previous_opinion_id must name the latest version of this request",
            FlowError::NothingToCorrect => {
                "nothing was submitted for this request yet; leave previous_opinion_id empty"
            }
            FlowError::OpinionSuperseded => "this version was replaced by a correction; receive the latest version",
            FlowError::AlreadyReceived => "this version was already received",
            FlowError::OpenRequestExists => {
                "an opinion request for this application is still open; cancel it before requesting again"
            }
        }
    }
}

/// The latest version of a request, as far as submission cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    /// Its id.
    pub opinion_id: String,
    /// Its revision (1, 2, …).
    pub revision: i32,
}

/// Decides whether a submission may be stored, and returns its revision number.
pub fn check_submission(
    status: OpinionRequestStatus,
    latest: Option<&Latest>,
    previous_opinion_id: Option<&str>,
) -> Result<i32, FlowError> {
    if status == OpinionRequestStatus::Cancelled {
        return Err(FlowError::RequestCancelled);
    }
    match (latest, previous_opinion_id) {
        (None, None) => Ok(1),
        (None, Some(_)) => Err(FlowError::NothingToCorrect),
        (Some(_), None) => Err(FlowError::CorrectionLinkRequired),
        (Some(l), Some(p)) if l.opinion_id == p => Ok(l.revision + 1),
        (Some(_), Some(_)) => Err(FlowError::PreviousNotLatest),
    }
}

/// Decides whether the insurer may receive a version in `status`.
pub fn check_receive(status: OpinionStatus) -> Result<(), FlowError> {
    match status {
        OpinionStatus::Submitted => Ok(()),
        OpinionStatus::Received => Err(FlowError::AlreadyReceived),
        OpinionStatus::Superseded | OpinionStatus::Unspecified => Err(FlowError::OpinionSuperseded),
    }
}

/// Decides whether a request may be cancelled.
pub fn check_cancel(status: OpinionRequestStatus) -> Result<(), FlowError> {
    match status {
        OpinionRequestStatus::Requested => Ok(()),
        OpinionRequestStatus::Cancelled => Err(FlowError::RequestCancelled),
        _ => Err(FlowError::RequestNotOpen),
    }
}

/// True while a request still expects (or holds an unreceived) opinion.
pub fn is_open(status: OpinionRequestStatus) -> bool {
    matches!(status, OpinionRequestStatus::Requested | OpinionRequestStatus::Submitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest(rev: i32) -> Latest {
        Latest { opinion_id: format!("o{rev}"), revision: rev }
    }

    #[test]
    fn the_first_submission_has_no_link_and_corrections_link_the_latest() {
        use OpinionRequestStatus::*;
        assert_eq!(check_submission(Requested, None, None), Ok(1));
        assert_eq!(check_submission(Requested, None, Some("o1")), Err(FlowError::NothingToCorrect));
        assert_eq!(check_submission(Submitted, Some(&latest(1)), None), Err(FlowError::CorrectionLinkRequired));
        assert_eq!(check_submission(Submitted, Some(&latest(1)), Some("o1")), Ok(2));
        assert_eq!(check_submission(Received, Some(&latest(2)), Some("o2")), Ok(3));
        assert_eq!(check_submission(Received, Some(&latest(2)), Some("o1")), Err(FlowError::PreviousNotLatest));
        assert_eq!(check_submission(Cancelled, None, None), Err(FlowError::RequestCancelled));
    }

    #[test]
    fn only_the_latest_unreceived_version_is_received() {
        assert_eq!(check_receive(OpinionStatus::Submitted), Ok(()));
        assert_eq!(check_receive(OpinionStatus::Received), Err(FlowError::AlreadyReceived));
        assert_eq!(check_receive(OpinionStatus::Superseded), Err(FlowError::OpinionSuperseded));
    }

    #[test]
    fn only_open_requests_are_cancelled() {
        assert_eq!(check_cancel(OpinionRequestStatus::Requested), Ok(()));
        assert_eq!(check_cancel(OpinionRequestStatus::Submitted), Err(FlowError::RequestNotOpen));
        assert!(is_open(OpinionRequestStatus::Submitted));
        assert!(!is_open(OpinionRequestStatus::Received));
    }
}
