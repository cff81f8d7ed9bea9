//! The insurer's acceptance of a 居宅サービス計画作成依頼届出 (`registry.care_plan_notification_accepted`)
//! records the office as the person's care-management office here, once
//! (docs/domain/access.md#care-plan-notification).

use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors;
use kaigo_platform::idempotency::IdempotencyKey;
use kaigo_platform::{ApiError, Violations};
use kaigo_proto::kaigo::registry::v1::CarePlanNotificationAccepted;

use super::{Api, convert, validated};
use crate::domain::Detail;
use crate::domain::care_management::{self, Change};
use crate::store::write::Author;
use crate::store::{self, SUPERSEDED};

/// The party the platform's own writes from this event are keyed under.
const SYSTEM_PARTY: &str = "system:registry.care_plan_notification_accepted";

/// The platform itself, as the author of the records it derives from the event.
fn system() -> Caller {
    Caller {
        subject: "registry.care_plan_notification_accepted".into(),
        role: Role::Operator,
        insurer: None,
        office: None,
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

impl Api {
    /// Records the accepted notification's office from its start date (kind 居宅介護支援,
    /// 届出年月日 the day it was sent, JST). Idempotent on the event id, and a notification
    /// whose office is already in force changes nothing; a person eligibility does not know
    /// yet is skipped (logged without personal data). The write joins `txn`, the consumer's.
    pub async fn apply_notification(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        event_id: &str,
        event: &CarePlanNotificationAccepted,
    ) -> Result<(), ApiError> {
        let mut v = Violations::new();
        let notification = event.notification.clone().unwrap_or_default();
        let person = notification.person.clone().unwrap_or_default();
        let key = convert::key(&mut v, "notification.person.", &person.insurer_number, &person.insured_number);
        let office = v.check(
            "notification.office_number",
            kaigo_platform::ids::CareOfficeNumber::parse(&notification.office_number),
        );
        let start = convert::date(&mut v, "notification.start_date", notification.start_date.as_ref());
        let (key, (office, start)) = validated(v, key.zip(office.zip(start)))?;
        let notified = notification
            .submit_time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .map(kaigo_platform::time::jst_date);
        let request_id = format!("notification-{event_id}");
        let done =
            IdempotencyKey::with_party("CarePlanNotificationAccepted", SYSTEM_PARTY.to_owned(), &request_id, event);
        match done.replay(txn).await {
            Ok(Some(_)) => return Ok(()),
            Err(err) if err.reason() == "REQUEST_ID_REUSED" => return Ok(()),
            Err(err) => return Err(err),
            Ok(None) => {}
        }
        let mut tx = store::begin_write(txn, self.inner.clock.now()).await.map_err(errors::db)?;
        let Some(row) = tx.lock_person(&key).await.map_err(errors::db)? else {
            tracing::warn!(
                event_id,
                insurer = key.insurer(),
                "accepted notification for a person not recorded here; skipped"
            );
            return Ok(());
        };
        let active = tx.active_records(row.id).await.map_err(errors::db)?;
        let Change::Record { end, end_on, supersede } = care_management::change(&active, office.as_str(), start) else {
            return Ok(());
        };
        for id in end {
            if let Some(old) = tx.record(row.id, id).await.map_err(errors::db)? {
                tx.update_record(old, crate::store::ACTIVE, end_on, None).await.map_err(errors::db)?;
            }
        }
        for id in supersede {
            if let Some(old) = tx.record(row.id, id).await.map_err(errors::db)? {
                let old_end = old.end_date;
                tx.update_record(old, SUPERSEDED, old_end, None).await.map_err(errors::db)?;
            }
        }
        let detail = Detail::CareManagement {
            kind: 1,
            office_number: office.as_str().to_owned(),
            office_name: String::new(),
            notified,
        };
        let caller = system();
        let reason = format!("居宅サービス計画作成依頼届出 (notification {})", notification.notification_id);
        let author = Author { caller: &caller, reason: &reason };
        tx.insert_record(row.id, &detail, start, None, None, &author).await.map_err(errors::db)?;
        tx.touch_person(&key, &row).await.map_err(errors::db)?;
        // Releases the savepoint; the consumer commits, and the eligibility.changed event
        // written with it invalidates the caches.
        tx.commit(Some(&done), &[]).await.map_err(errors::db)?;
        Ok(())
    }
}
