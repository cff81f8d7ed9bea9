//! 居宅サービス計画作成依頼届出 (docs/domain/access.md#care-plan-notification).

use kaigo_access::OrganizationKind;
use kaigo_platform::audit;
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{self, ApiError, Violations};
use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_platform::idempotency::write::replay;
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_proto::kaigo::registry::v1 as pb;

use super::convert::{self, Person};
use super::relationships::new_registration;
use super::{Api, require_insurer};
use crate::TOPIC_NOTIFICATION_ACCEPTED;
use crate::changes;
use crate::domain::Evidence;
use crate::store::{self, notification};
use crate::wire;

const RACE: (&str, &str) =
    ("NOTIFICATION_ALREADY_DECIDED", "another request decided this notification at the same time; read it again");

fn already_decided() -> ApiError {
    ApiError::failed_precondition("NOTIFICATION_ALREADY_DECIDED", "the notification was already accepted or returned")
}

impl Api {
    pub(super) async fn submit_notification(
        &self,
        caller: &Caller,
        req: &pb::SubmitCarePlanNotificationRequest,
    ) -> Result<pb::SubmitCarePlanNotificationResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        let person = convert::person(&mut v, "person", req.person.as_ref());
        let start = convert::optional_date(&mut v, "start_date", req.start_date.as_ref());
        if req.start_date.is_none() {
            v.add("start_date", "required: the day care management starts");
        }
        // A part missing here has its violation recorded above.
        let (Some(person), Some(start)) = (person, start) else {
            return Err(ApiError::invalid_argument(v));
        };
        v.into_result()?;
        let office = match (caller.role, caller.organization()) {
            (Role::CareOffice, Some(office)) => office.to_owned(),
            _ => {
                return Err(ApiError::permission_denied(
                    "ROLE_NOT_ALLOWED",
                    "only a care office (居宅介護支援事業所) sends a 居宅サービス計画作成依頼届出",
                ));
            }
        };
        let key = IdempotencyKey::new("SubmitCarePlanNotification", caller, &req.request_id, req);
        let now = self.clock.now();
        let subject = caller.subject.clone();

        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                replay(txn, key).await?;
                let row = notification::Model {
                    id: uuid::Uuid::now_v7().to_string(),
                    version: 1,
                    insurer_number: person.insurer,
                    insured_number: person.insured,
                    office_number: office,
                    start_date: start,
                    status: "submitted".to_owned(),
                    submitted_at: now,
                    submitted_by_subject: subject,
                    decided_at: None,
                    decided_by_role: None,
                    decided_by_subject: None,
                    decided_by_org: None,
                    return_reason: None,
                    registration_id: None,
                };
                store::insert_notification(txn, row.clone()).await?;
                Ok(pb::SubmitCarePlanNotificationResponse { notification: Some(convert::notification(&row)) })
            })
        })
        .await
    }

    pub(super) async fn accept_notification(
        &self,
        caller: &Caller,
        req: &pb::AcceptCarePlanNotificationRequest,
    ) -> Result<pb::AcceptCarePlanNotificationResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        convert::id(&mut v, "notification_id", &req.notification_id);
        v.into_result()?;
        if caller.role != Role::Insurer {
            return Err(ApiError::permission_denied(
                "ROLE_NOT_ALLOWED",
                "only the person's insurer accepts a notification",
            ));
        }
        let key = IdempotencyKey::new("AcceptCarePlanNotification", caller, &req.request_id, req);
        let now = self.clock.now();
        let by = convert::caller_words(caller);
        let (req, caller) = (req.clone(), caller.clone());
        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                let (req, caller) = (&req, &caller);
                let mut row = store::notification(txn, &req.notification_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("NOTIFICATION_NOT_FOUND", "no notification with this id"))?;
                require_insurer(caller, &row.insurer_number)?;
                replay(txn, key).await?;
                if row.status != "submitted" {
                    return Err(already_decided().into());
                }
                let person = Person { insurer: row.insurer_number.clone(), insured: row.insured_number.clone() };
                // An office already registered (by card, say) keeps its registration.
                let registration = match store::active_registration(
                    txn,
                    &row.office_number,
                    &person.insurer,
                    &person.insured,
                )
                .await?
                {
                    Some(active) => active,
                    None => {
                        let new = new_registration(
                            OrganizationKind::CareOffice,
                            &row.office_number,
                            &person,
                            row.start_date,
                            Evidence::InsurerAcceptedNotification,
                            None,
                            Some(row.id.clone()),
                            by.clone(),
                            now,
                        );
                        changes::create_registration(txn, new, now).await?
                    }
                };
                let from = row.version;
                row.version += 1;
                row.status = "accepted".to_owned();
                row.decided_at = Some(now);
                row.decided_by_role = Some(by.0);
                row.decided_by_subject = Some(by.1);
                row.decided_by_org = Some(by.2);
                row.registration_id = Some(registration.id.clone());
                if !store::decide_notification(txn, row.clone(), from).await? {
                    return Err(already_decided().into());
                }
                let message = convert::notification(&row);
                let event = pb::CarePlanNotificationAccepted {
                    notification: Some(message.clone()),
                    registration_id: registration.id.clone(),
                };
                let event = NewEvent {
                    topic: TOPIC_NOTIFICATION_ACCEPTED.to_owned(),
                    key: row.id.clone(),
                    payload: prost::Message::encode_to_vec(&event),
                };
                enqueue(txn, event).await?;
                Ok(pb::AcceptCarePlanNotificationResponse {
                    notification: Some(message),
                    registration: Some(wire::registration(&registration)),
                })
            })
        })
        .await
    }

    pub(super) async fn return_notification(
        &self,
        caller: &Caller,
        req: &pb::ReturnCarePlanNotificationRequest,
    ) -> Result<pb::ReturnCarePlanNotificationResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        convert::id(&mut v, "notification_id", &req.notification_id);
        if req.reason.trim().is_empty() {
            v.add("reason", "required: why the notification is returned (1–400 characters)");
        }
        convert::text(&mut v, "reason", &req.reason);
        v.into_result()?;
        if caller.role != Role::Insurer {
            return Err(ApiError::permission_denied(
                "ROLE_NOT_ALLOWED",
                "only the person's insurer returns a notification",
            ));
        }
        let key = IdempotencyKey::new("ReturnCarePlanNotification", caller, &req.request_id, req);
        let now = self.clock.now();
        let by = convert::caller_words(caller);
        let (req, caller) = (req.clone(), caller.clone());
        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                let (req, caller) = (&req, &caller);
                let mut row = store::notification(txn, &req.notification_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("NOTIFICATION_NOT_FOUND", "no notification with this id"))?;
                require_insurer(caller, &row.insurer_number)?;
                replay(txn, key).await?;
                if row.status != "submitted" {
                    return Err(already_decided().into());
                }
                let from = row.version;
                row.version += 1;
                row.status = "returned".to_owned();
                row.decided_at = Some(now);
                row.decided_by_role = Some(by.0);
                row.decided_by_subject = Some(by.1);
                row.decided_by_org = Some(by.2);
                row.return_reason = Some(req.reason.trim().to_owned());
                if !store::decide_notification(txn, row.clone(), from).await? {
                    return Err(already_decided().into());
                }
                Ok(pb::ReturnCarePlanNotificationResponse { notification: Some(convert::notification(&row)) })
            })
        })
        .await
    }

    pub(super) async fn list_notifications(
        &self,
        caller: &Caller,
        req: &pb::ListCarePlanNotificationsRequest,
    ) -> Result<pb::ListCarePlanNotificationsResponse, ApiError> {
        let mut v = Violations::new();
        let status = match pb::NotificationStatus::try_from(req.status) {
            Ok(pb::NotificationStatus::Unspecified) => None,
            Ok(pb::NotificationStatus::Submitted) => Some("submitted"),
            Ok(pb::NotificationStatus::Accepted) => Some("accepted"),
            Ok(pb::NotificationStatus::Returned) => Some("returned"),
            Err(_) => {
                v.add("status", "unknown status");
                None
            }
        };
        let size = convert::page_size(&mut v, req.page_size);
        let offset = convert::page_token(&mut v, &req.page_token);
        v.into_result()?;
        let (insurer, office) = match (caller.role, caller.organization()) {
            (Role::Insurer, Some(insurer)) => (Some(insurer), None),
            (Role::CareOffice, Some(office)) => (None, Some(office)),
            _ => {
                return Err(ApiError::permission_denied(
                    "ROLE_NOT_ALLOWED",
                    "insurers list the notifications sent to them, care offices those they sent",
                ));
            }
        };
        let rows =
            store::notifications(&self.db, insurer, office, status, offset, size + 1).await.map_err(errors::db)?;
        let more = rows.len() > usize::try_from(size).unwrap_or(usize::MAX);
        let rows: Vec<_> = rows.into_iter().take(usize::try_from(size).unwrap_or(usize::MAX)).collect();
        let mut persons: Vec<String> =
            rows.iter().map(|r| audit::person(&r.insurer_number, &r.insured_number)).collect();
        persons.sort();
        persons.dedup();
        if !persons.is_empty() {
            self.audit(caller, "ListCarePlanNotifications", "care_plan_notifications", audit::ALLOWED, persons).await;
        }
        Ok(pb::ListCarePlanNotificationsResponse {
            notifications: rows.iter().map(convert::notification).collect(),
            next_page_token: if more { (offset + size).to_string() } else { String::new() },
        })
    }
}
