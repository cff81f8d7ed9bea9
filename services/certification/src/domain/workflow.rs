//! The step state machine (docs/domain/certification.md#process):
//!
//! ```text
//! received ─┬─ survey scheduled → survey completed ─┐
//!           └─ opinion requested → opinion received ─┴→ primary judgment → review board
//!              scheduled → decided → notified
//! withdrawn / cancelled: at any time before the decision
//! delay notice: any time while open
//! ```
//!
//! [`check`] says whether a step may happen now, and if not, which rule it breaks and which
//! steps are missing; [`apply`] moves the state. Rescheduling (a second survey date, a second
//! opinion request to another doctor, another board date) is allowed until the next stage.
//!
//! Going back without cancelling (docs/domain/certification.md#going-back), any time before the
//! decision: a re-survey (再調査) returns a completed survey branch to "not scheduled", a second
//! opinion (再意見書) a received opinion branch to "requested" — both back to "received", so the
//! primary judgment is made again — and the board's deferral (継続審査) returns a scheduled board
//! to "primary judged". A corrected opinion received after the first changes no state.

use serde::{Deserialize, Serialize};

use super::types::{OpinionState, Status, StepKind, SurveyState};

/// The parts of an application that decide which step may come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    /// Overall status.
    pub status: Status,
    /// 認定調査 branch.
    pub survey: SurveyState,
    /// 主治医意見書 branch.
    pub opinion: OpinionState,
    /// A 転入 with a 受給資格証明書: the certification is carried over, so the decision follows
    /// the application directly, without survey, opinion or board
    /// (docs/domain/certification.md#transfer).
    #[serde(default)]
    pub carried_over: bool,
}

impl Workflow {
    /// A freshly received application.
    pub const RECEIVED: Workflow = Workflow {
        status: Status::Received,
        survey: SurveyState::NotScheduled,
        opinion: OpinionState::NotRequested,
        carried_over: false,
    };

    /// A freshly received 転入 whose certification is carried over.
    pub const CARRIED_OVER: Workflow = Workflow { carried_over: true, ..Workflow::RECEIVED };
}

/// A step that may not happen now: the rule (`reason`, for ErrorInfo), the steps missing, and
/// the figures a caller needs to correct the request (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// UPPER_SNAKE rule name.
    pub reason: &'static str,
    /// The steps that must happen first (empty when the step is simply too late, or another
    /// rule of the step refused it).
    pub missing: Vec<StepKind>,
    /// English explanation, no personal data.
    pub message: String,
    /// Named values for ErrorInfo metadata (the allowed months of a validity, …).
    pub metadata: Vec<(&'static str, String)>,
}

impl Refusal {
    fn missing(reason: &'static str, step: StepKind, missing: Vec<StepKind>) -> Self {
        let names: Vec<&str> = missing.iter().map(|k| k.name()).collect();
        Refusal {
            reason,
            message: format!("{} needs {} first", step.name(), names.join(" and ")),
            missing,
            metadata: Vec::new(),
        }
    }

    fn too_late(reason: &'static str, message: String) -> Self {
        Self::rule(reason, message)
    }

    /// A step's own rule refuses it (a date before the application's, a validity out of range).
    pub fn rule(reason: &'static str, message: impl Into<String>) -> Self {
        Refusal { reason, missing: Vec::new(), message: message.into(), metadata: Vec::new() }
    }

    /// Adds a named value.
    pub fn with(mut self, key: &'static str, value: String) -> Self {
        self.metadata.push((key, value));
        self
    }
}

/// Whether `step` may happen in `state`.
pub fn check(state: &Workflow, step: StepKind) -> Result<(), Refusal> {
    use StepKind as K;
    if state.status.is_terminal() {
        return Err(Refusal::too_late(
            "APPLICATION_CLOSED",
            format!("the application is {} and takes no further steps", state.status.as_str()),
        ));
    }
    let before_judgment = state.status == Status::Received;
    if state.carried_over {
        return match step {
            K::Decided if state.status == Status::Received => Ok(()),
            K::Decided => Err(Refusal::too_late("ALREADY_DECIDED", "the application is already decided".to_owned())),
            K::Received => {
                Err(Refusal::too_late("ALREADY_RECEIVED", "the application was already received".to_owned()))
            }
            K::Notified if state.status == Status::Decided => Ok(()),
            K::Notified => Err(Refusal::missing("NOT_DECIDED", step, vec![K::Decided])),
            K::DelayNoticeIssued | K::Withdrawn | K::Cancelled if state.status.is_open() => Ok(()),
            K::DelayNoticeIssued | K::Withdrawn | K::Cancelled => Err(Refusal::too_late(
                "ALREADY_DECIDED",
                format!("{} is not possible once the application is decided", step.name()),
            )),
            _ => Err(Refusal::rule(
                "CERTIFICATION_CARRIED_OVER",
                format!(
                    "{} is not part of a 転入 whose certification is carried over; record the decision",
                    step.name()
                ),
            )),
        };
    }
    match step {
        K::Received => Err(Refusal::too_late("ALREADY_RECEIVED", "the application was already received".to_owned())),
        K::SurveyScheduled | K::SurveyCompleted | K::OpinionRequested | K::OpinionReceived if !before_judgment => {
            Err(Refusal::too_late(
                "PRIMARY_JUDGMENT_ALREADY_RECORDED",
                format!("{} is not possible after the primary judgment", step.name()),
            ))
        }
        K::SurveyScheduled => match state.survey {
            SurveyState::Completed => {
                Err(Refusal::too_late("SURVEY_ALREADY_COMPLETED", "the survey is already completed".to_owned()))
            }
            _ => Ok(()),
        },
        K::SurveyCompleted => match state.survey {
            SurveyState::NotScheduled => Err(Refusal::missing("SURVEY_NOT_SCHEDULED", step, vec![K::SurveyScheduled])),
            SurveyState::Scheduled => Ok(()),
            SurveyState::Completed => {
                Err(Refusal::too_late("SURVEY_ALREADY_COMPLETED", "the survey is already completed".to_owned()))
            }
        },
        K::OpinionRequested => match state.opinion {
            OpinionState::Received => {
                Err(Refusal::too_late("OPINION_ALREADY_RECEIVED", "the opinion is already received".to_owned()))
            }
            _ => Ok(()),
        },
        K::OpinionReceived => match state.opinion {
            OpinionState::NotRequested => {
                Err(Refusal::missing("OPINION_NOT_REQUESTED", step, vec![K::OpinionRequested]))
            }
            OpinionState::Requested => Ok(()),
            OpinionState::Received => {
                Err(Refusal::too_late("OPINION_ALREADY_RECEIVED", "the opinion is already received".to_owned()))
            }
        },
        K::PrimaryJudgment => {
            if !before_judgment {
                return Err(Refusal::too_late(
                    "PRIMARY_JUDGMENT_ALREADY_RECORDED",
                    "the primary judgment is already recorded".to_owned(),
                ));
            }
            let mut missing = Vec::new();
            if state.survey != SurveyState::Completed {
                missing.push(K::SurveyCompleted);
            }
            if state.opinion != OpinionState::Received {
                missing.push(K::OpinionReceived);
            }
            if missing.is_empty() {
                Ok(())
            } else {
                Err(Refusal::missing("PRIMARY_JUDGMENT_PREREQUISITES_MISSING", step, missing))
            }
        }
        K::ReviewBoardScheduled => match state.status {
            Status::Received => Err(Refusal::missing("PRIMARY_JUDGMENT_MISSING", step, vec![K::PrimaryJudgment])),
            Status::PrimaryJudged | Status::BoardScheduled => Ok(()),
            _ => Err(Refusal::too_late("ALREADY_DECIDED", "the application is already decided".to_owned())),
        },
        K::Decided => match state.status {
            Status::Received => Err(Refusal::missing(
                "PRIMARY_JUDGMENT_MISSING",
                step,
                vec![K::PrimaryJudgment, K::ReviewBoardScheduled],
            )),
            Status::PrimaryJudged => {
                Err(Refusal::missing("REVIEW_BOARD_NOT_SCHEDULED", step, vec![K::ReviewBoardScheduled]))
            }
            Status::BoardScheduled => Ok(()),
            _ => Err(Refusal::too_late("ALREADY_DECIDED", "the application is already decided".to_owned())),
        },
        K::Notified => match state.status {
            Status::Decided => Ok(()),
            _ => Err(Refusal::missing("NOT_DECIDED", step, vec![K::Decided])),
        },
        // Going back (docs/domain/certification.md#going-back): never after the decision.
        K::ResurveyRequested | K::SecondOpinionRequested | K::ReviewDeferred | K::OpinionCorrected
            if !state.status.is_open() =>
        {
            Err(Refusal::too_late(
                "ALREADY_DECIDED",
                format!("{} is not possible once the application is decided", step.name()),
            ))
        }
        K::ResurveyRequested => match state.survey {
            SurveyState::Completed => Ok(()),
            _ => Err(Refusal::rule(
                "SURVEY_NOT_COMPLETED",
                "no survey is completed to do again; schedule the survey (again) instead",
            )),
        },
        K::SecondOpinionRequested | K::OpinionCorrected => match state.opinion {
            OpinionState::Received => Ok(()),
            _ => Err(Refusal::rule(
                "OPINION_NOT_YET_RECEIVED",
                "no opinion is received yet; request it (again) or wait for it instead",
            )),
        },
        K::ReviewDeferred => match state.status {
            Status::BoardScheduled => Ok(()),
            _ => Err(Refusal::missing("REVIEW_BOARD_NOT_SCHEDULED", step, vec![K::ReviewBoardScheduled])),
        },
        K::DelayNoticeIssued | K::Withdrawn | K::Cancelled => {
            if state.status.is_open() {
                Ok(())
            } else {
                Err(Refusal::too_late(
                    "ALREADY_DECIDED",
                    format!("{} is not possible once the application is decided", step.name()),
                ))
            }
        }
    }
}

/// The state after `step` (call [`check`] first; an impossible step leaves the state as is).
pub fn apply(state: Workflow, step: StepKind) -> Workflow {
    use StepKind as K;
    if check(&state, step).is_err() {
        return state;
    }
    match step {
        K::Received | K::DelayNoticeIssued | K::OpinionCorrected => state,
        K::ResurveyRequested => Workflow { status: Status::Received, survey: SurveyState::NotScheduled, ..state },
        K::SecondOpinionRequested => Workflow { status: Status::Received, opinion: OpinionState::Requested, ..state },
        K::ReviewDeferred => Workflow { status: Status::PrimaryJudged, ..state },
        K::SurveyScheduled => Workflow { survey: SurveyState::Scheduled, ..state },
        K::SurveyCompleted => Workflow { survey: SurveyState::Completed, ..state },
        K::OpinionRequested => Workflow { opinion: OpinionState::Requested, ..state },
        K::OpinionReceived => Workflow { opinion: OpinionState::Received, ..state },
        K::PrimaryJudgment => Workflow { status: Status::PrimaryJudged, ..state },
        K::ReviewBoardScheduled => Workflow { status: Status::BoardScheduled, ..state },
        K::Decided => Workflow { status: Status::Decided, ..state },
        K::Notified => Workflow { status: Status::Notified, ..state },
        K::Withdrawn => Workflow { status: Status::Withdrawn, ..state },
        K::Cancelled => Workflow { status: Status::Cancelled, ..state },
    }
}

/// The steps still needed before a decision, in order (empty once decided or closed).
pub fn pending_steps(state: &Workflow) -> Vec<StepKind> {
    use StepKind as K;
    if !state.status.is_open() {
        return Vec::new();
    }
    if state.carried_over {
        return vec![K::Decided];
    }
    let mut out = Vec::new();
    if state.status == Status::Received {
        match state.survey {
            SurveyState::NotScheduled => out.extend([K::SurveyScheduled, K::SurveyCompleted]),
            SurveyState::Scheduled => out.push(K::SurveyCompleted),
            SurveyState::Completed => {}
        }
        match state.opinion {
            OpinionState::NotRequested => out.extend([K::OpinionRequested, K::OpinionReceived]),
            OpinionState::Requested => out.push(K::OpinionReceived),
            OpinionState::Received => {}
        }
        out.push(K::PrimaryJudgment);
    }
    if state.status != Status::BoardScheduled {
        out.push(K::ReviewBoardScheduled);
    }
    out.push(K::Decided);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use StepKind as K;

    fn run(steps: &[StepKind]) -> Workflow {
        steps.iter().fold(Workflow::RECEIVED, |s, k| {
            check(&s, *k).unwrap_or_else(|r| panic!("{k:?}: {r:?}"));
            apply(s, *k)
        })
    }

    const HAPPY: [StepKind; 8] = [
        K::SurveyScheduled,
        K::OpinionRequested,
        K::OpinionReceived,
        K::SurveyCompleted,
        K::PrimaryJudgment,
        K::ReviewBoardScheduled,
        K::Decided,
        K::Notified,
    ];

    #[test]
    fn going_back_reopens_a_branch_or_the_board_without_closing() {
        let judged = &HAPPY[..6];
        let mut steps = judged.to_vec();
        steps.push(K::ResurveyRequested);
        let back = run(&steps);
        assert_eq!(
            (back.status, back.survey, back.opinion),
            (Status::Received, SurveyState::NotScheduled, OpinionState::Received)
        );
        assert_eq!(pending_steps(&back)[..3], [K::SurveyScheduled, K::SurveyCompleted, K::PrimaryJudgment]);
        let again = run(&[&steps[..], &[K::SurveyScheduled, K::SurveyCompleted, K::PrimaryJudgment]].concat());
        assert_eq!(again.status, Status::PrimaryJudged);

        let mut steps = judged.to_vec();
        steps.push(K::SecondOpinionRequested);
        let back = run(&steps);
        assert_eq!((back.status, back.opinion), (Status::Received, OpinionState::Requested));
        assert_eq!(check(&back, K::PrimaryJudgment).unwrap_err().missing, vec![K::OpinionReceived]);
        assert_eq!(check(&back, K::OpinionCorrected).unwrap_err().reason, "OPINION_NOT_YET_RECEIVED");

        let mut steps = judged.to_vec();
        steps.push(K::ReviewDeferred);
        let deferred = run(&steps);
        assert_eq!(deferred.status, Status::PrimaryJudged);
        assert_eq!(check(&deferred, K::Decided).unwrap_err().missing, vec![K::ReviewBoardScheduled]);
        assert_eq!(check(&deferred, K::ReviewDeferred).unwrap_err().reason, "REVIEW_BOARD_NOT_SCHEDULED");
        // A correction changes nothing but is recorded.
        let corrected = apply(deferred, K::OpinionCorrected);
        assert_eq!(corrected, deferred);

        // Not before the branch is done, never after the decision.
        assert_eq!(check(&Workflow::RECEIVED, K::ResurveyRequested).unwrap_err().reason, "SURVEY_NOT_COMPLETED");
        assert_eq!(
            check(&Workflow::RECEIVED, K::SecondOpinionRequested).unwrap_err().reason,
            "OPINION_NOT_YET_RECEIVED"
        );
        let decided = run(&HAPPY[..7]);
        for kind in [K::ResurveyRequested, K::SecondOpinionRequested, K::ReviewDeferred, K::OpinionCorrected] {
            assert_eq!(check(&decided, kind).unwrap_err().reason, "ALREADY_DECIDED", "{kind:?}");
        }
        let notified = run(&HAPPY);
        assert_eq!(check(&notified, K::ResurveyRequested).unwrap_err().reason, "APPLICATION_CLOSED");
    }

    #[test]
    fn a_carried_over_certification_goes_straight_to_the_decision() {
        let w = Workflow::CARRIED_OVER;
        assert_eq!(pending_steps(&w), vec![K::Decided]);
        for step in [K::SurveyScheduled, K::OpinionRequested, K::PrimaryJudgment, K::ReviewBoardScheduled] {
            assert_eq!(check(&w, step).unwrap_err().reason, "CERTIFICATION_CARRIED_OVER", "{step:?}");
        }
        assert!(check(&w, K::DelayNoticeIssued).is_ok());
        let decided = apply(w, K::Decided);
        assert_eq!(decided.status, Status::Decided);
        assert!(pending_steps(&decided).is_empty());
        assert_eq!(check(&decided, K::Decided).unwrap_err().reason, "ALREADY_DECIDED");
        assert_eq!(apply(decided, K::Notified).status, Status::Notified);
    }

    #[test]
    fn the_happy_path_ends_notified_with_nothing_pending() {
        let end = run(&HAPPY);
        assert_eq!(end.status, Status::Notified);
        assert!(pending_steps(&end).is_empty());
    }

    #[test]
    fn the_branches_run_in_either_order() {
        let a =
            run(&[K::OpinionRequested, K::SurveyScheduled, K::SurveyCompleted, K::OpinionReceived, K::PrimaryJudgment]);
        assert_eq!(a.status, Status::PrimaryJudged);
    }

    #[test]
    fn primary_judgment_names_every_missing_branch() {
        let r = check(&Workflow::RECEIVED, K::PrimaryJudgment).unwrap_err();
        assert_eq!(r.reason, "PRIMARY_JUDGMENT_PREREQUISITES_MISSING");
        assert_eq!(r.missing, vec![K::SurveyCompleted, K::OpinionReceived]);
        assert_eq!(r.message, "PRIMARY_JUDGMENT needs SURVEY_COMPLETED and OPINION_RECEIVED first");
        let survey_only = run(&[K::SurveyScheduled, K::SurveyCompleted]);
        assert_eq!(check(&survey_only, K::PrimaryJudgment).unwrap_err().missing, vec![K::OpinionReceived]);
        let opinion_only = run(&[K::OpinionRequested, K::OpinionReceived]);
        assert_eq!(check(&opinion_only, K::PrimaryJudgment).unwrap_err().missing, vec![K::SurveyCompleted]);
    }

    #[test]
    fn each_step_out_of_order_is_refused_with_its_rule() {
        let r = Workflow::RECEIVED;
        assert_eq!(check(&r, K::SurveyCompleted).unwrap_err().reason, "SURVEY_NOT_SCHEDULED");
        assert_eq!(check(&r, K::OpinionReceived).unwrap_err().reason, "OPINION_NOT_REQUESTED");
        assert_eq!(check(&r, K::ReviewBoardScheduled).unwrap_err().reason, "PRIMARY_JUDGMENT_MISSING");
        assert_eq!(check(&r, K::Decided).unwrap_err().reason, "PRIMARY_JUDGMENT_MISSING");
        assert_eq!(check(&r, K::Notified).unwrap_err().reason, "NOT_DECIDED");
        assert_eq!(check(&r, K::Received).unwrap_err().reason, "ALREADY_RECEIVED");
        let judged = run(&HAPPY[..5]);
        assert_eq!(check(&judged, K::Decided).unwrap_err().reason, "REVIEW_BOARD_NOT_SCHEDULED");
        assert_eq!(check(&judged, K::SurveyScheduled).unwrap_err().reason, "PRIMARY_JUDGMENT_ALREADY_RECORDED");
        assert_eq!(check(&judged, K::PrimaryJudgment).unwrap_err().reason, "PRIMARY_JUDGMENT_ALREADY_RECORDED");
        let decided = run(&HAPPY[..7]);
        for late in [K::Withdrawn, K::Cancelled, K::DelayNoticeIssued, K::Decided, K::ReviewBoardScheduled] {
            assert_eq!(check(&decided, late).unwrap_err().reason, "ALREADY_DECIDED", "{late:?}");
        }
        let done = run(&HAPPY);
        for kind in StepKind::ALL {
            assert_eq!(check(&done, kind).unwrap_err().reason, "APPLICATION_CLOSED", "{kind:?}");
        }
    }

    #[test]
    fn repeats_are_refused_but_rescheduling_is_allowed() {
        let s = run(&[K::SurveyScheduled, K::SurveyScheduled, K::OpinionRequested, K::OpinionRequested]);
        assert_eq!(s.survey, SurveyState::Scheduled);
        let done = run(&[K::SurveyScheduled, K::SurveyCompleted, K::OpinionRequested, K::OpinionReceived]);
        assert_eq!(check(&done, K::SurveyCompleted).unwrap_err().reason, "SURVEY_ALREADY_COMPLETED");
        assert_eq!(check(&done, K::SurveyScheduled).unwrap_err().reason, "SURVEY_ALREADY_COMPLETED");
        assert_eq!(check(&done, K::OpinionReceived).unwrap_err().reason, "OPINION_ALREADY_RECEIVED");
        assert_eq!(check(&done, K::OpinionRequested).unwrap_err().reason, "OPINION_ALREADY_RECEIVED");
        let board = run(&[
            K::SurveyScheduled,
            K::SurveyCompleted,
            K::OpinionRequested,
            K::OpinionReceived,
            K::PrimaryJudgment,
            K::ReviewBoardScheduled,
            K::ReviewBoardScheduled,
        ]);
        assert_eq!(board.status, Status::BoardScheduled);
    }

    #[test]
    fn withdrawn_and_cancelled_close_an_open_application() {
        for stop in [K::Withdrawn, K::Cancelled] {
            for prefix in 0..=6 {
                let s = run(&[&HAPPY[..prefix], &[stop]].concat());
                assert!(s.status.is_terminal());
                assert_eq!(check(&s, K::DelayNoticeIssued).unwrap_err().reason, "APPLICATION_CLOSED");
            }
        }
        let open = run(&[K::DelayNoticeIssued, K::DelayNoticeIssued]);
        assert_eq!(open, Workflow::RECEIVED);
    }

    #[test]
    fn pending_steps_shrink_as_the_work_is_done() {
        assert_eq!(
            pending_steps(&Workflow::RECEIVED),
            vec![
                K::SurveyScheduled,
                K::SurveyCompleted,
                K::OpinionRequested,
                K::OpinionReceived,
                K::PrimaryJudgment,
                K::ReviewBoardScheduled,
                K::Decided
            ]
        );
        assert_eq!(
            pending_steps(&run(&HAPPY[..3])),
            vec![K::SurveyCompleted, K::PrimaryJudgment, K::ReviewBoardScheduled, K::Decided]
        );
        assert_eq!(pending_steps(&run(&HAPPY[..6])), vec![K::Decided]);
        assert!(pending_steps(&run(&HAPPY[..7])).is_empty());
    }

    #[test]
    fn apply_ignores_an_impossible_step() {
        assert_eq!(apply(Workflow::RECEIVED, K::Decided), Workflow::RECEIVED);
    }
}
