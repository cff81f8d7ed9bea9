//! Events: `certification.decided` is published through the outbox by RecordDecision (payload
//! `kaigo.certification.v1.CertificationDecidedEvent`); `opinion.received` from documents
//! (payload `kaigo.documents.v1.OpinionReceivedEvent`, key = application id) moves an
//! application to "opinion received".
//!
//! The consumer applies each event exactly once (the platform's `Consumer` records the event id
//! in the same transaction). A corrected opinion (a higher `revision`) arriving after the first
//! was received is recorded as an OPINION_CORRECTED step and shown on the application, so the
//! insurer reads it before the decision (docs/domain/certification.md#going-back). Events that
//! cannot apply are skipped with a log line, not retried: an unknown application, another
//! insurer's, one already decided, or a version not newer than the one received. If documents received an opinion that was never
//! recorded here as requested (the request was made outside the platform), the consumer records
//! the implied request step first, so the timeline stays in order.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kaigo_platform::events::{Event, EventHandler, HandlerError};
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::documents::v1::OpinionReceivedEvent;
use sea_orm::{DatabaseConnection, DatabaseTransaction, EntityTrait};

use crate::api::system_actor;
use crate::domain::steps;
use crate::domain::types::{OpinionState, Status};
use crate::signals::StepSignals;
use crate::store::entities::application;
use crate::store::{self, Change, NewStep, Written};

/// The topic consumed.
pub const OPINION_RECEIVED_TOPIC: &str = "opinion.received";

/// Applies `opinion.received`.
pub struct OpinionReceivedHandler {
    /// The service's database.
    pub db: DatabaseConnection,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Wakes watchers once the consumer's transaction is visible.
    pub signals: StepSignals,
}

/// Why an event was skipped (logged; never personal data).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Skip(String);

impl EventHandler for OpinionReceivedHandler {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let payload: OpinionReceivedEvent = match prost::Message::decode(event.payload.as_slice()) {
                Ok(p) => p,
                Err(err) => return Err(Box::new(err) as HandlerError),
            };
            let application_id =
                if payload.application_id.is_empty() { event.key.clone() } else { payload.application_id.clone() };
            let now = self.clock.now();
            let receive_time = payload.receive_time.as_ref().and_then(crate::api::convert::instant).unwrap_or(now);
            let actor = system_actor("event:opinion.received");
            let outcome = store::write_in(
                txn,
                None,
                &application_id,
                0,
                now,
                |record| {
                    if record.insurer_number != payload.insurer_number && !payload.insurer_number.is_empty() {
                        return Err(Skip("the event's insurer is not the application's".to_owned()).into_api());
                    }
                    Ok(())
                },
                |a| {
                    let r = &mut a.record;
                    if r.workflow.opinion == OpinionState::Received {
                        // A corrected version after the first (docs/domain/certification.md#going-back):
                        // surfaced to the insurer before the decision. The same or an older
                        // version (a redelivery, events out of order) changes nothing.
                        if payload.opinion_id == r.opinion.opinion_id || payload.revision <= r.opinion.revision.max(1) {
                            return Err(Skip(format!(
                                "application {}: opinion revision {} is not newer than the one received",
                                r.id, payload.revision
                            ))
                            .into_api());
                        }
                        let step = steps::record_corrected_opinion(
                            r,
                            payload.opinion_id.clone(),
                            payload.revision,
                            receive_time,
                        )?;
                        let mut change = Change::default();
                        change.steps.push(NewStep {
                            kind: step.kind,
                            occur_time: receive_time,
                            actor: actor.clone(),
                            summary: step.summary,
                        });
                        return Ok(change);
                    }
                    if r.workflow.status != Status::Received {
                        return Err(Skip(format!(
                            "application {} is past the opinion stage ({}); event ignored",
                            r.id,
                            r.workflow.status.as_str()
                        ))
                        .into_api());
                    }
                    // After a second opinion was asked for, a late version answering the
                    // earlier request is not the answer awaited.
                    let asked = &r.opinion.opinion_request_id;
                    if !asked.is_empty()
                        && !payload.opinion_request_id.is_empty()
                        && *asked != payload.opinion_request_id
                    {
                        return Err(
                            Skip(format!("application {}: the opinion answers an earlier request", r.id)).into_api()
                        );
                    }
                    // The same step rules as RecordOpinionRequested / RecordOpinionReceived.
                    let mut change = Change::default();
                    if r.workflow.opinion == OpinionState::NotRequested {
                        let institution = payload.institution_code.clone();
                        let request_id = payload.opinion_request_id.clone();
                        let step = steps::request_opinion(r, institution, request_id, receive_time)?;
                        change.steps.push(NewStep {
                            kind: step.kind,
                            occur_time: receive_time,
                            actor: actor.clone(),
                            summary: "opinion request implied by documents' opinion.received".to_owned(),
                        });
                    }
                    let step = steps::receive_opinion(r, payload.opinion_id.clone(), receive_time)?;
                    r.opinion.revision = payload.revision;
                    change.steps.push(NewStep {
                        kind: step.kind,
                        occur_time: receive_time,
                        actor: actor.clone(),
                        summary: "opinion (主治医意見書) received electronically".to_owned(),
                    });
                    Ok(change)
                },
                |_| Vec::new(),
            )
            .await;
            match outcome {
                Ok(Written::Fresh { application_id, version, .. }) => {
                    self.announce_when_visible(application_id, version);
                    Ok(())
                }
                Ok(Written::Replayed(_)) => Ok(()),
                Err(err) if err.code() == tonic::Code::Internal || err.code() == tonic::Code::Unavailable => {
                    Err(Box::new(err) as HandlerError)
                }
                Err(err) => {
                    tracing::info!(event_id = %event.id, reason = err.reason(), error = %err, "opinion.received skipped");
                    Ok(())
                }
            }
        })
    }
}

impl Skip {
    fn into_api(self) -> kaigo_platform::errors::ApiError {
        kaigo_platform::errors::ApiError::failed_precondition("EVENT_NOT_APPLICABLE", self.0)
    }
}

impl OpinionReceivedHandler {
    /// The consumer commits after `handle` returns; wake watchers once the new version is
    /// readable (they would otherwise catch up on their periodic re-read).
    fn announce_when_visible(&self, application_id: String, version: i64) {
        let db = self.db.clone();
        let signals = self.signals.clone();
        tokio::spawn(async move {
            let until = tokio::time::Instant::now() + Duration::from_secs(5);
            while tokio::time::Instant::now() < until {
                let visible = application::Entity::find_by_id(application_id.clone())
                    .one(&db)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|row| row.version >= version);
                if visible {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            signals.announce(&application_id).await;
        });
    }
}
