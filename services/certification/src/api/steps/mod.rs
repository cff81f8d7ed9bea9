//! The step RPCs, one file per phase of the workflow: [`survey`] (認定調査), [`opinion`]
//! (主治医意見書), [`judgment`] (一次判定 and the review board), [`decision`] (二次判定 and the
//! result notice), [`closure`] (withdrawal, cancellation, delay notices) and [`going_back`]
//! (re-survey, second opinion, the board's deferral).
//!
//! Each RPC checks the caller's role, validates its request into a typed input once, and hands
//! the step's rule from [`crate::domain::steps`] to [`Inner::step`], which inside one
//! transaction checks the caller against the stored application, replays a retry, checks the
//! version, applies the rule and appends the step.

mod closure;
mod decision;
mod going_back;
mod judgment;
mod opinion;
mod survey;

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_proto::kaigo::certification::v1 as pb;

use super::submit::MAX_TEXT;
use super::{Inner, check_application_id, convert};
use crate::domain::access::{self, Parties};
use crate::domain::record::{ActorRecord, ApplicationRecord, LoadedApplication};
use crate::domain::steps::Recorded;
use crate::domain::workflow::Refusal;
use crate::store::{self, Change, NewStep};

/// Who may call a step RPC.
#[derive(Clone, Copy)]
enum Who {
    /// The deciding insurer.
    Insurer,
    /// The insurer, the acting office or the person (withdrawal).
    Party,
}

/// The parts every step request has.
struct Call<'a> {
    rpc: &'static str,
    request_id: &'a str,
    application_id: &'a str,
    expected_version: i64,
    who: Who,
}

/// A step refused by the workflow or its own rules: FAILED_PRECONDITION naming the rule, with
/// the missing steps and the rule's figures as metadata.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let missing: Vec<&str> = r.missing.iter().map(|k| k.name()).collect();
        let mut err = ApiError::failed_precondition(r.reason, r.message);
        if !missing.is_empty() {
            err = err.with_metadata("missing", missing.join(","));
        }
        for (key, value) in r.metadata {
            err = err.with_metadata(key, value);
        }
        err
    }
}

fn parties(r: &ApplicationRecord) -> Parties<'_> {
    Parties {
        insurer_number: &r.insurer_number,
        acting_office_number: r.acting_office_number.as_deref(),
        person_subject: r.person_subject.as_deref(),
    }
}

/// PERMISSION_DENIED for roles that may never make the step (before the request is validated).
fn role_may_call(caller: &Caller, who: Who) -> Result<(), ApiError> {
    let allowed = match who {
        Who::Insurer => access::role_may_record_steps(caller.role),
        Who::Party => access::role_may_read(caller.role),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::permission_denied("STEP_NOT_ALLOWED", "the caller may not record this step"))
    }
}

/// Checks the parts every step request has, after the step's own fields.
fn check_call(v: &mut Violations, request_id: &str, application_id: &str, expected_version: i64) {
    check_request_id(v, "request_id", request_id);
    check_application_id(v, application_id);
    if expected_version <= 0 {
        v.add("expected_version", "required: the version last read (> 0)");
    }
}

fn required_date(v: &mut Violations, field: &str, d: Option<&kaigo_proto::google::r#type::Date>) -> Option<NaiveDate> {
    match d {
        None => {
            v.add(field, "required");
            None
        }
        Some(d) => v.check(field, convert::date(d)),
    }
}

fn occur_time(v: &mut Violations, t: Option<&prost_types::Timestamp>, now: DateTime<Utc>) -> DateTime<Utc> {
    match t {
        None => now,
        Some(t) => match convert::instant(t) {
            Some(t) if t <= now + chrono::Duration::minutes(5) => t,
            Some(_) => {
                v.add("occur_time", "must not be in the future");
                now
            }
            None => {
                v.add("occur_time", "out of range");
                now
            }
        },
    }
}

fn text(v: &mut Violations, field: &str, s: &str) {
    if s.chars().count() > MAX_TEXT {
        v.add(field, format!("at most {MAX_TEXT} characters"));
    }
}

/// The change of a step that appends `step`, happened at `occur`, recorded by `actor`.
fn append(step: Recorded, occur: DateTime<Utc>, actor: ActorRecord) -> Change {
    Change {
        steps: vec![NewStep { kind: step.kind, occur_time: occur, actor, summary: step.summary }],
        ..Change::default()
    }
}

impl Inner {
    /// Runs one validated step write: the caller against the stored application, a retry's
    /// stored answer, the version, then `mutate` (the step's rule) and the response.
    async fn step<Req, Resp, M>(
        &self,
        caller: &Caller,
        call: Call<'_>,
        request: &Req,
        mutate: M,
        wrap: fn(pb::Application) -> Resp,
    ) -> Result<Resp, ApiError>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
        M: FnOnce(&mut LoadedApplication) -> Result<Change, ApiError>,
    {
        let who = call.who;
        let key = IdempotencyKey::new(call.rpc, caller, call.request_id, request);
        let today = self.clock.today_jst();
        let at_risk = self.settings.at_risk_day;
        let written = store::write(
            &self.db,
            &key,
            call.application_id,
            call.expected_version,
            self.clock.now(),
            |record| {
                let p = parties(record);
                let allowed = match who {
                    Who::Insurer => access::may_record_steps(caller, &p),
                    Who::Party => access::may_withdraw(caller, &p),
                };
                if allowed {
                    Ok(())
                } else {
                    Err(ApiError::permission_denied(
                        "STEP_NOT_ALLOWED",
                        "the caller may not record steps of this application",
                    ))
                }
            },
            mutate,
            |loaded| prost::Message::encode_to_vec(&wrap(convert::application(loaded, today, at_risk, true))),
        )
        .await?;
        self.finish(caller, written).await
    }
}
