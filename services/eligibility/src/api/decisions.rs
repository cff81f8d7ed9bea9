//! Certification decisions from the certification service (`certification.decided`) become
//! certification periods here, without paper and without a call back.

use chrono::Days;
use kaigo_platform::ApiError;
use kaigo_platform::Violations;
use kaigo_platform::auth::{Caller, Role};
use kaigo_proto::kaigo::certification::v1::CertificationDecidedEvent;

use kaigo_platform::errors;
use kaigo_platform::idempotency::IdempotencyKey;

use super::{Api, convert, validated};
use crate::domain::{Detail, Kind, validity};
use crate::store::write::Author;
use crate::store::{self, SUPERSEDED};

/// The party the platform's own writes are keyed under.
const SYSTEM_PARTY: &str = "system:certification.decided";

/// The platform itself, as the author of records it derives from events.
fn system() -> Caller {
    Caller {
        subject: "certification.decided".into(),
        role: Role::Operator,
        insurer: None,
        office: None,
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

impl Api {
    /// Records the decided certification. Idempotent on the event id; a decision that starts
    /// inside an active certification (区分変更, or a renewal decided early) ends the old period
    /// the day before the new one starts, or supersedes it when it starts the same day or later.
    ///
    /// The write joins `txn`, the consumer's transaction that also records the event as handled,
    /// so both commit together (and SQLite's single writer is never asked for a second lock).
    pub async fn apply_decision(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        event_id: &str,
        event: &CertificationDecidedEvent,
    ) -> Result<(), ApiError> {
        let mut v = Violations::new();
        let key = convert::key(&mut v, "", &event.insurer_number, &event.insured_number);
        let level = convert::care_level(&mut v, "care_level", event.care_level);
        let certified = convert::date(&mut v, "certified_date", event.certified_date.as_ref());
        // 非該当 has no validity period (docs/domain/certification.md#no-validity): certification
        // sends the day it takes effect as an open period; an older event without one takes
        // effect on the application date.
        let validity = match event.validity.as_ref() {
            Some(period) => convert::period(&mut v, "validity", Some(period)),
            None => convert::date(&mut v, "application_date", event.application_date.as_ref()).map(|s| (s, None)),
        };
        let decision = key.zip(level).zip(certified).zip(validity);
        let (((key, level), certified), (start, end)) = validated(v, decision)?;
        let limit_units = u32::try_from(event.limit_units_per_month)
            .ok()
            .filter(|u| *u > 0)
            .or(level.default_limit_units())
            .unwrap_or(0);
        let detail = Detail::Certification {
            level,
            certified,
            limit_units,
            board_opinion: event.board_opinion.clone(),
            designated_service_types: event.designated_service_types.clone(),
            service_type_limits: Vec::new(),
            application_id: event.application_id.clone(),
        };
        // The event's own id keys the write: a redelivered event finds it done. (The consumer
        // deduplicates too; this also covers a decision applied before that record existed.)
        let request_id = format!("decided-{event_id}");
        let done = IdempotencyKey::with_party("CertificationDecided", SYSTEM_PARTY.to_owned(), &request_id, event);
        match done.replay(txn).await {
            Ok(Some(_)) => return Ok(()),
            // An answer stored under this id by the version before hashed the event id only.
            Err(err) if err.reason() == "REQUEST_ID_REUSED" => return Ok(()),
            Err(err) => return Err(err),
            Ok(None) => {}
        }
        let mut tx = store::begin_write(txn, self.inner.clock.now()).await.map_err(errors::db)?;
        let person = tx.lock_person(&key).await.map_err(errors::db)?.ok_or_else(|| {
            ApiError::failed_precondition(
                "PERSON_NOT_REGISTERED",
                "the insurer has not registered this insured person yet",
            )
        })?;
        let caller = system();
        let author = Author { caller: &caller, reason: &format!("認定 (application {})", event.application_id) };
        let active = tx.active_records(person.id).await.map_err(errors::db)?;
        for old in active.iter().filter(|r| r.detail.kind() == Kind::Certification && r.overlaps(start, end)) {
            let Some(row) = tx.record(person.id, old.id).await.map_err(errors::db)? else { continue };
            if old.start < start {
                let day_before = start.checked_sub_days(Days::new(1));
                tx.update_record(row, crate::store::ACTIVE, day_before, None).await.map_err(errors::db)?;
            } else {
                let old_end = row.end_date;
                tx.update_record(row, SUPERSEDED, old_end, None).await.map_err(errors::db)?;
            }
        }
        let remaining = tx.active_records(person.id).await.map_err(errors::db)?;
        validity::check_record(&remaining, &detail, start, end, None, &self.inner.rules)
            .map_err(|v| ApiError::failed_precondition(v.reason, v.message))?;
        tx.insert_record(person.id, &detail, start, end, None, &author).await.map_err(errors::db)?;
        tx.touch_person(&key, &person).await.map_err(errors::db)?;
        // Releases the savepoint; the consumer commits. The eligibility.changed event written with
        // it invalidates the caches once that commit is published.
        tx.commit(Some(&done), &[]).await.map_err(errors::db)?;
        Ok(())
    }
}
