//! 一次判定 and the 介護認定審査会: RecordPrimaryJudgment and ScheduleReviewBoard.

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_proto::kaigo::certification::v1 as pb;

use super::{Call, Who, append, check_call, occur_time, required_date, role_may_call};
use crate::api::{Inner, actor, convert};
use crate::domain::judgment::{BandIndicators, External, SOFTWARE_VERSIONS};
use crate::domain::record::SurveyResult;
use crate::domain::steps;
use crate::domain::types::CareLevel;

/// A valid RecordPrimaryJudgment.
struct Judged {
    /// The level the insurer's 認定ソフト gave, if it gave one.
    external: Option<External>,
    occur: DateTime<Utc>,
}

fn judged(r: &pb::RecordPrimaryJudgmentRequest, now: DateTime<Utc>) -> Result<Judged, ApiError> {
    let mut v = Violations::new();
    let external = if r.external_care_level == 0 {
        None
    } else {
        let level = CareLevel::from_wire(r.external_care_level);
        if level.is_none() {
            v.add("external_care_level", "must be 非該当, 要支援1–2 or 要介護1–5");
        }
        level
    };
    if !r.software_version.is_empty() {
        if r.external_care_level == 0 {
            v.add("software_version", "only with external_care_level");
        } else if !SOFTWARE_VERSIONS.contains(&r.software_version.as_str()) {
            v.add("software_version", format!("one of {}", SOFTWARE_VERSIONS.join(", ")));
        }
    }
    let external = external.map(|level| External { level, software_version: r.software_version.clone() });
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    v.into_result()?;
    Ok(Judged { external, occur })
}

/// A valid ScheduleReviewBoard.
struct Board {
    date: NaiveDate,
    occur: DateTime<Utc>,
}

fn board(r: &pb::ScheduleReviewBoardRequest, now: DateTime<Utc>) -> Result<Board, ApiError> {
    let mut v = Violations::new();
    let date = required_date(&mut v, "board_date", r.board_date.as_ref());
    if r.board_name.chars().count() > 100 {
        v.add("board_name", "at most 100 characters");
    }
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let Some(date) = date else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    Ok(Board { date, occur })
}

/// The stored survey's indicators for the 32–50 minute band, when both were recorded.
fn indicators(survey: &SurveyResult) -> Option<BandIndicators> {
    let stability = convert::stability_from(survey.stability)?;
    let dementia = convert::dementia_from(survey.dementia_level)?;
    Some(BandIndicators { stability, dementia })
}

impl Inner {
    pub(crate) async fn primary_judgment(
        &self,
        caller: &Caller,
        r: &pb::RecordPrimaryJudgmentRequest,
    ) -> Result<pb::RecordPrimaryJudgmentResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let valid = judged(r, self.clock.now())?;
        let call = Call {
            rpc: "RecordPrimaryJudgment",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        let who = actor(caller);
        self.step(
            caller,
            call,
            r,
            |a| {
                let band = a.record.survey.result.as_ref().and_then(indicators);
                Ok(append(steps::judge(&mut a.record, valid.external, band)?, valid.occur, who))
            },
            |application| pb::RecordPrimaryJudgmentResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn review_board(
        &self,
        caller: &Caller,
        r: &pb::ScheduleReviewBoardRequest,
    ) -> Result<pb::ScheduleReviewBoardResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let valid = board(r, self.clock.now())?;
        let call = Call {
            rpc: "ScheduleReviewBoard",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        let who = actor(caller);
        self.step(
            caller,
            call,
            r,
            |a| {
                let step = steps::schedule_board(&mut a.record, valid.date, r.board_name.clone())?;
                Ok(append(step, valid.occur, who))
            },
            |application| pb::ScheduleReviewBoardResponse { application: Some(application) },
        )
        .await
    }
}
