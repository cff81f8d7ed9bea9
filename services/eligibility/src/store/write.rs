//! Idempotent, versioned writes: one transaction from the idempotency check to the outbox.

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_platform::idempotency::IdempotencyKey;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Set, TransactionTrait,
};

use super::entities::{person, record};
use super::{ACTIVE, to_domain};
use crate::domain::{Detail, Record};
use crate::key::PersonKey;

/// The topic every committed change to a person publishes (key: the person key's insurer only;
/// the payload is [`changed_payload`]: the 16-byte key and the person's version after the
/// change, or [`facts_changed_payload`]: the key and a mark that the person's access facts
/// changed).
pub const CHANGED_TOPIC: &str = "eligibility.changed";

/// Separates the key from the version in a [`CHANGED_TOPIC`] payload.
const VERSION_SEPARATOR: u8 = b':';

/// What follows the separator in the payload of a change of the access facts.
const FACTS_MARK: &[u8] = b"facts";

/// The payload of a [`CHANGED_TOPIC`] event: the person's 16-byte key, `:`, and the person's
/// version after the change in ASCII decimal (`4350730000000001:7`). The consumer keeps an L2
/// value at that version or later and deletes older ones ([`parse_changed_payload`]).
pub fn changed_payload(key: &PersonKey, version: i64) -> Vec<u8> {
    let mut payload = Vec::with_capacity(16 + 1 + 20);
    payload.extend_from_slice(key.as_bytes());
    payload.push(VERSION_SEPARATOR);
    payload.extend_from_slice(version.to_string().as_bytes());
    payload
}

/// The `eligibility.changed` event of `key`, changed to `version` in the transaction it is
/// enqueued in.
pub fn changed_event(key: &PersonKey, version: i64) -> NewEvent {
    NewEvent { topic: CHANGED_TOPIC.to_owned(), key: key.insurer().to_owned(), payload: changed_payload(key, version) }
}

/// The payload of a [`CHANGED_TOPIC`] event for a change of the person's access facts: the
/// key, `:facts` (`4350730000000001:facts`). The consumer reads the facts' stamp as the
/// database holds it when it handles the event, after the change committed, and leaves L2 a
/// tombstone at it (crate::cache::Cache::facts_changed). An older build's consumer reads no
/// version in it and deletes the field, as it did for every event.
pub fn facts_changed_payload(key: &PersonKey) -> Vec<u8> {
    let mut payload = Vec::with_capacity(16 + 1 + FACTS_MARK.len());
    payload.extend_from_slice(key.as_bytes());
    payload.push(VERSION_SEPARATOR);
    payload.extend_from_slice(FACTS_MARK);
    payload
}

/// The `eligibility.changed` event of a change of `key`'s access facts, enqueued in the
/// transaction that applies the change to the service's copy.
pub fn facts_changed_event(key: &PersonKey) -> NewEvent {
    NewEvent { topic: CHANGED_TOPIC.to_owned(), key: key.insurer().to_owned(), payload: facts_changed_payload(key) }
}

/// What a [`CHANGED_TOPIC`] event announces about its person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced {
    /// A write left the person at this version.
    Version(i64),
    /// The person's access facts changed.
    Facts,
    /// Nothing more than the key: a payload of the key alone (written by builds before
    /// versions were carried) or one whose version does not parse. The consumer deletes
    /// whatever L2 holds, as those builds' consumers did.
    Unversioned,
}

/// The person and what a [`CHANGED_TOPIC`] payload announces; `None` when the payload does
/// not start with a person key.
pub fn parse_changed_payload(payload: &[u8]) -> Option<(PersonKey, Announced)> {
    let key = PersonKey::from_bytes(payload.get(..16)?)?;
    let announced = match payload.get(16..) {
        Some([VERSION_SEPARATOR, rest @ ..]) if rest == FACTS_MARK => Announced::Facts,
        Some([VERSION_SEPARATOR, digits @ ..]) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<i64>().ok())
                .map_or(Announced::Unversioned, Announced::Version)
        }
        _ => Announced::Unversioned,
    };
    Some((key, announced))
}

/// Starts a write through `db` (a pool, or a transaction whose savepoint the write becomes),
/// stamped `now`. The caller has checked for a stored answer first
/// (`kaigo_platform::idempotency`), after authorising the caller.
pub(super) async fn begin<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<WriteTx, DbErr> {
    let txn = kaigo_platform::db::begin_write(db).await?;
    let postgres = kaigo_platform::db::is_postgres(&txn);
    Ok(WriteTx { txn, postgres, changed: Vec::new(), now })
}

/// A write in progress. Dropping it without [`WriteTx::commit`] rolls everything back.
pub struct WriteTx {
    txn: DatabaseTransaction,
    postgres: bool,
    /// Each changed person with a version it was given (the last one is the highest).
    changed: Vec<(PersonKey, i64)>,
    now: DateTime<Utc>,
}

/// Who made a change, as recorded with it.
pub struct Author<'a> {
    /// The caller.
    pub caller: &'a Caller,
    /// Why (free text from the request).
    pub reason: &'a str,
}

impl WriteTx {
    /// The write's transaction (for the store's other tables, e.g. [`super::allowances`]).
    pub(crate) fn connection(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The time the write is stamped with.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The person row, locked for the rest of the transaction (PostgreSQL), or `None`.
    pub async fn lock_person(&self, key: &PersonKey) -> Result<Option<person::Model>, DbErr> {
        let mut query = person::Entity::find()
            .filter(person::Column::InsurerNumber.eq(key.insurer()))
            .filter(person::Column::InsuredNumber.eq(key.insured()));
        if self.postgres {
            query = query.lock(LockType::Update);
        }
        query.one(&self.txn).await
    }

    /// Inserts or updates a person; returns the stored row. `existing` is the locked row.
    pub async fn save_person(
        &mut self,
        key: &PersonKey,
        existing: Option<person::Model>,
        new: person::Model,
    ) -> Result<person::Model, DbErr> {
        let now = self.now;
        let saved = match existing {
            Some(old) => {
                let mut active: person::ActiveModel = old.clone().into();
                active.name_kanji = Set(new.name_kanji);
                active.name_kana = Set(new.name_kana);
                active.birth_date = Set(new.birth_date);
                active.sex = Set(new.sex);
                active.category = Set(new.category);
                active.acquired_date = Set(new.acquired_date);
                active.lost_date = Set(new.lost_date);
                active.card_issued_date = Set(new.card_issued_date);
                active.version = Set(old.version + 1);
                active.updated_at = Set(now);
                active.update(&self.txn).await
            }
            None => {
                let active = person::ActiveModel {
                    id: sea_orm::NotSet,
                    insurer_number: Set(key.insurer().to_owned()),
                    insured_number: Set(key.insured().to_owned()),
                    name_kanji: Set(new.name_kanji),
                    name_kana: Set(new.name_kana),
                    birth_date: Set(new.birth_date),
                    sex: Set(new.sex),
                    category: Set(new.category),
                    acquired_date: Set(new.acquired_date),
                    lost_date: Set(new.lost_date),
                    card_issued_date: Set(new.card_issued_date),
                    version: Set(1),
                    updated_at: Set(now),
                };
                active.insert(&self.txn).await
            }
        }?;
        self.changed.push((*key, saved.version));
        Ok(saved)
    }

    /// The person's active records.
    pub async fn active_records(&self, person_id: i64) -> Result<Vec<Record>, DbErr> {
        let rows = record::Entity::find()
            .filter(record::Column::PersonId.eq(person_id))
            .filter(record::Column::State.eq(ACTIVE))
            .all(&self.txn)
            .await?;
        rows.iter().map(to_domain).collect()
    }

    /// One record row of the person, any state.
    pub async fn record(&self, person_id: i64, record_id: i64) -> Result<Option<record::Model>, DbErr> {
        record::Entity::find_by_id(record_id).filter(record::Column::PersonId.eq(person_id)).one(&self.txn).await
    }

    /// Adds an active record.
    pub async fn insert_record(
        &mut self,
        person_id: i64,
        detail: &Detail,
        start: NaiveDate,
        end: Option<NaiveDate>,
        supersedes: Option<i64>,
        author: &Author<'_>,
    ) -> Result<record::Model, DbErr> {
        let json = serde_json::to_string(detail).map_err(|e| DbErr::Custom(e.to_string()))?;
        let caller = author.caller;
        let org = caller.organization().unwrap_or_default().to_owned();
        let active = record::ActiveModel {
            id: sea_orm::NotSet,
            person_id: Set(person_id),
            kind: Set(kind_code(detail)),
            state: Set(ACTIVE),
            start_date: Set(start),
            end_date: Set(end),
            detail: Set(json),
            supersedes: Set(supersedes),
            superseded_by: Set(None),
            recorded_at: Set(self.now),
            recorded_by_role: Set(caller.role.as_str().to_owned()),
            recorded_by_subject: Set(caller.subject.clone()),
            recorded_by_org: Set(org),
            change_reason: Set(author.reason.to_owned()),
        };
        active.insert(&self.txn).await
    }

    /// Changes a record's state (superseded, voided), end date, or successor.
    pub async fn update_record(
        &mut self,
        row: record::Model,
        state: i16,
        end: Option<NaiveDate>,
        superseded_by: Option<i64>,
    ) -> Result<record::Model, DbErr> {
        let mut active: record::ActiveModel = row.into();
        active.state = Set(state);
        active.end_date = Set(end);
        active.superseded_by = Set(superseded_by);
        active.update(&self.txn).await
    }

    /// Sets the person's own 資格取得年月日 and 資格喪失年月日 (the latest qualification span's,
    /// docs/domain/eligibility.md#qualification) without bumping the version ([`Self::touch_person`]
    /// does); returns the updated row.
    pub async fn set_pair(
        &mut self,
        person: &person::Model,
        acquired: NaiveDate,
        lost: Option<NaiveDate>,
    ) -> Result<person::Model, DbErr> {
        let mut active: person::ActiveModel = person.clone().into();
        active.acquired_date = Set(Some(acquired));
        active.lost_date = Set(lost);
        active.update(&self.txn).await
    }

    /// Bumps the person's version after a change to their records; returns the new version.
    pub async fn touch_person(&mut self, key: &PersonKey, person: &person::Model) -> Result<i64, DbErr> {
        let mut active: person::ActiveModel = person.clone().into();
        active.version = Set(person.version + 1);
        active.updated_at = Set(self.now);
        let version = active.update(&self.txn).await?.version;
        self.changed.push((*key, version));
        Ok(version)
    }

    /// Stores `response` under `key` (when the write has one), publishes a change event per
    /// changed person through the outbox ([`changed_event`], with the person's version as the
    /// transaction leaves it), and commits. Returns the changed keys (for cache invalidation).
    pub async fn commit(self, key: Option<&IdempotencyKey>, response: &[u8]) -> Result<Vec<PersonKey>, DbErr> {
        if let Some(key) = key {
            key.remember(&self.txn, self.now, response).await?;
        }
        let mut changed = self.changed;
        // By key, the highest version last: the version the transaction leaves is the one kept.
        changed.sort();
        changed.reverse();
        changed.dedup_by_key(|(key, _)| *key);
        changed.reverse();
        for (key, version) in &changed {
            enqueue(&self.txn, changed_event(key, *version)).await?;
        }
        self.txn.commit().await?;
        Ok(changed.into_iter().map(|(key, _)| key).collect())
    }
}

/// The stored kind code of a detail (matches the proto's RecordKind numbers).
pub fn kind_code(detail: &Detail) -> i16 {
    match detail {
        Detail::Certification { .. } => 1,
        Detail::Copayment { .. } => 2,
        Detail::CostLimit { .. } => 3,
        Detail::BenefitRestriction { .. } => 4,
        Detail::ResidenceException { .. } => 5,
        Detail::CareManagement { .. } => 6,
        Detail::Qualification { .. } => 7,
    }
}
