//! 認定調査: RecordSurveyScheduled and RecordSurveyCompleted.

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;

use super::{Call, Who, append, check_call, occur_time, required_date, role_may_call, text};
use crate::api::{Inner, actor, convert};
use crate::domain::record::SurveyResult;
use crate::domain::survey_items;
use crate::domain::{judgment, steps};

/// A valid RecordSurveyScheduled.
struct Scheduled {
    date: NaiveDate,
    occur: DateTime<Utc>,
}

fn scheduled(r: &pb::RecordSurveyScheduledRequest, now: DateTime<Utc>) -> Result<Scheduled, ApiError> {
    let mut v = Violations::new();
    let date = required_date(&mut v, "scheduled_date", r.scheduled_date.as_ref());
    text(&mut v, "surveyor", &r.surveyor);
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let Some(date) = date else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    Ok(Scheduled { date, occur })
}

/// A valid RecordSurveyCompleted.
struct Completed {
    date: NaiveDate,
    result: SurveyResult,
    occur: DateTime<Utc>,
}

fn completed(
    r: &pb::RecordSurveyCompletedRequest,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<Completed, ApiError> {
    let mut v = Violations::new();
    let date = required_date(&mut v, "completed_date", r.completed_date.as_ref());
    if date.is_some_and(|d| d > today) {
        v.add("completed_date", "must not be in the future (JST)");
    }
    let result = match &r.result {
        None => {
            v.add("result", "required");
            None
        }
        Some(res) => Some(survey_result(&mut v, res)),
    };
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let (Some(date), Some(result)) = (date, result) else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    Ok(Completed { date, result, occur })
}

/// The survey's figures: the standard time in range, and in the 32–50 minute band both
/// indicators the primary judgment needs.
fn survey_result(v: &mut Violations, res: &pb::SurveyResult) -> SurveyResult {
    if res.standard_time_tenth_minutes < 0 {
        v.add("result.standard_time_tenth_minutes", "must not be negative");
    } else if res.standard_time_tenth_minutes > 100_000 {
        v.add("result.standard_time_tenth_minutes", "implausibly large");
    }
    let in_band = judgment::in_split_band(res.standard_time_tenth_minutes);
    if pb::ConditionStability::try_from(res.stability).is_err()
        || (in_band && convert::stability_from(res.stability).is_none())
    {
        v.add("result.stability", "required when the standard time is in the 32–50 minute band");
    }
    if common::DementiaIndependenceLevel::try_from(res.dementia_level).is_err()
        || (in_band && convert::dementia_from(res.dementia_level).is_none())
    {
        v.add("result.dementia_level", "required when the standard time is in the 32–50 minute band");
    }
    if common::DisabilityIndependenceLevel::try_from(res.disability_level).is_err() {
        v.add("result.disability_level", "unknown value");
    }
    // docs/domain/certification.md#survey: the 74 items and the notes.
    let basic_items: Vec<(String, i32)> = res.basic_items.iter().map(|i| (i.code.clone(), i.answer)).collect();
    if basic_items.len() > survey_items::ITEMS.len() {
        v.add("result.basic_items", format!("at most {} items", survey_items::ITEMS.len()));
    } else {
        for (at, problem) in survey_items::check_items(&basic_items) {
            match at {
                Some(i) => v.add(format!("result.basic_items[{i}]"), problem),
                None => v.add("result.basic_items", problem),
            }
        }
    }
    if res.special_notes.len() > survey_items::MAX_NOTES {
        v.add("result.special_notes", format!("at most {} notes", survey_items::MAX_NOTES));
    } else {
        for (i, note) in res.special_notes.iter().enumerate() {
            if !survey_items::note_item_known(&note.item_code) {
                v.add(format!("result.special_notes[{i}].item_code"), "an item code of the basic survey, or empty");
            }
            let chars = note.text.chars().count();
            if note.text.trim().is_empty() || chars > survey_items::MAX_NOTE_CHARS {
                v.add(
                    format!("result.special_notes[{i}].text"),
                    format!("required, at most {} characters", survey_items::MAX_NOTE_CHARS),
                );
            }
        }
    }
    SurveyResult {
        standard_time_tenths: res.standard_time_tenth_minutes,
        stability: res.stability,
        dementia_level: res.dementia_level,
        disability_level: res.disability_level,
        basic_items,
        special_notes: res.special_notes.iter().map(|n| (n.item_code.clone(), n.text.clone())).collect(),
    }
}

impl Inner {
    pub(crate) async fn survey_scheduled(
        &self,
        caller: &Caller,
        r: &pb::RecordSurveyScheduledRequest,
    ) -> Result<pb::RecordSurveyScheduledResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let valid = scheduled(r, self.clock.now())?;
        let call = Call {
            rpc: "RecordSurveyScheduled",
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
                let step = steps::schedule_survey(&mut a.record, valid.date, r.surveyor.clone())?;
                Ok(append(step, valid.occur, who))
            },
            |application| pb::RecordSurveyScheduledResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn survey_completed(
        &self,
        caller: &Caller,
        r: &pb::RecordSurveyCompletedRequest,
    ) -> Result<pb::RecordSurveyCompletedResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let valid = completed(r, self.clock.now(), self.clock.today_jst())?;
        let call = Call {
            rpc: "RecordSurveyCompleted",
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
            |a| Ok(append(steps::complete_survey(&mut a.record, valid.date, valid.result)?, valid.occur, who)),
            |application| pb::RecordSurveyCompletedResponse { application: Some(application) },
        )
        .await
    }
}
