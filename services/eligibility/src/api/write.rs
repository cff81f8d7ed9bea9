//! Insurer writes: persons and their periods. Idempotent on `request_id`
//! (`kaigo_platform::idempotency`: replayed only after the caller is authorised for the
//! person's insurer), optimistic on `expected_version`, validated by the domain rules, one
//! transaction each.

use kaigo_platform::auth::Caller;
use kaigo_platform::db::is_unique_violation;
use kaigo_platform::errors;
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_platform::{ApiError, Violations};
use kaigo_proto::kaigo::eligibility::v1 as pb;
use prost::Message;

use super::read::{person_to_wire, record_to_wire};
use super::{Api, convert, validated};
use crate::domain::qualification::{self, PairChange};
use crate::domain::validity::{self, RuleViolation};
use crate::domain::{Detail, Kind, Period, access};
use crate::key::PersonKey;
use crate::store::write::Author;
use crate::store::{self, ACTIVE, SUPERSEDED, VOIDED, WriteTx, person};

fn rule_error(v: RuleViolation) -> ApiError {
    ApiError::failed_precondition(v.reason, v.message)
}

/// A validated correction.
struct Correction {
    key: PersonKey,
    record_id: i64,
    period: Period,
}

impl Api {
    /// Starts the write's transaction, stamped with the service's clock.
    pub(super) async fn begin(&self) -> Result<WriteTx, ApiError> {
        store::begin_write(&self.inner.db, self.inner.clock.now()).await.map_err(errors::db)
    }

    /// Stores the answer under `key`, commits, then drops the changed persons from every cache
    /// tier. A concurrent retry of the same request that committed first turns this one into a
    /// replay.
    pub(super) async fn finish<R: Message + Default>(
        &self,
        tx: WriteTx,
        response: R,
        key: &IdempotencyKey,
    ) -> Result<R, ApiError> {
        match tx.commit(Some(key), &response.encode_to_vec()).await {
            Ok(changed) => {
                for person in &changed {
                    self.inner.cache.invalidate(person).await;
                }
                Ok(response)
            }
            Err(err) if is_unique_violation(&err) => match key.replay_as(&self.inner.db).await? {
                Some(stored) => Ok(stored),
                None => Err(ApiError::aborted("CONCURRENT_WRITE", "a concurrent write conflicted; retry")),
            },
            Err(err) => Err(errors::db(err)),
        }
    }

    /// The common end of every record write: bump the person's version, answer with the
    /// record, store the answer for retries and commit.
    async fn finish_record(
        &self,
        mut tx: WriteTx,
        person_key: &PersonKey,
        person: &person::Model,
        row: &crate::store::record::Model,
        key: &IdempotencyKey,
    ) -> Result<(Option<pb::EligibilityRecord>, i64), ApiError> {
        let version = tx.touch_person(person_key, person).await.map_err(errors::db)?;
        let response = RecordResponse { record: Some(record_to_wire(row)?), person_version: version };
        let response = self.finish(tx, response, key).await?;
        Ok((response.record, response.person_version))
    }

    /// The stored answer of an earlier identical record write, if there is one (asked only
    /// after the caller is authorised).
    async fn replayed_record(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<(Option<pb::EligibilityRecord>, i64)>, ApiError> {
        let stored: Option<RecordResponse> = key.replay_as(&self.inner.db).await?;
        Ok(stored.map(|r| (r.record, r.person_version)))
    }

    pub(super) fn authorize_write(caller: &Caller, key: &PersonKey) -> Result<(), ApiError> {
        if access::may_write(caller, key.insurer()) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(
                "WRITE_OWN_INSURED_ONLY",
                "only the person's own insurer records eligibility",
            ))
        }
    }

    pub(super) async fn locked_person(
        tx: &WriteTx,
        key: &PersonKey,
        expected_version: i64,
    ) -> Result<person::Model, ApiError> {
        let person = tx.lock_person(key).await.map_err(errors::db)?.ok_or_else(|| {
            ApiError::not_found("PERSON_NOT_FOUND", "no such insured person at this insurer; upsert the person first")
        })?;
        check_version(person.version, expected_version)?;
        Ok(person)
    }

    pub(super) async fn upsert_person(
        &self,
        request: tonic::Request<pb::UpsertInsuredPersonRequest>,
    ) -> Result<pb::UpsertInsuredPersonResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &r.request_id);
        let Some(p) = r.person.as_ref() else {
            v.add("person", "is required");
            return Err(ApiError::invalid_argument(v));
        };
        let key = convert::key(&mut v, "person.", &p.insurer_number, &p.insured_number);
        let new = validated_person(&mut v, p);
        if r.expected_version < 0 {
            v.add("expected_version", "must be 0 (create) or the version last read");
        }
        let (person_key, (new, pair)) = validated(v, key.zip(new))?;
        Self::authorize_write(&caller, &person_key)?;
        let key = IdempotencyKey::new("UpsertInsuredPerson", &caller, &r.request_id, &r);
        if let Some(stored) = key.replay_as(&self.inner.db).await? {
            return Ok(stored);
        }
        let mut tx = self.begin().await?;
        let existing = tx.lock_person(&person_key).await.map_err(errors::db)?;
        let current = existing.as_ref().map_or(0, |p| p.version);
        check_version(current, r.expected_version)?;
        let created = existing.is_none();
        let records = match &existing {
            Some(person) => tx.active_records(person.id).await.map_err(errors::db)?,
            None => Vec::new(),
        };
        // 第2号 pay 1割 over the whole history: a corrected birth date must keep it so.
        qualification::check_copayments_for_birth(&records, new.birth_date).map_err(rule_error)?;
        let saved = tx.save_person(&person_key, existing, new).await.map_err(errors::db)?;
        let author = Author { caller: &caller, reason: "UpsertInsuredPerson" };
        let saved = self.write_pair(&mut tx, saved, &records, pair, &author).await?;
        let response = pb::UpsertInsuredPersonResponse { person: Some(person_to_wire(&saved)), created };
        self.finish(tx, response, &key).await
    }

    /// The person's own pair as one qualification span, matched by its 資格取得年月日
    /// (docs/domain/eligibility.md#qualification): kept, corrected (history kept) or added
    /// under the overlap rule; then the person's pair follows the latest span.
    async fn write_pair(
        &self,
        tx: &mut WriteTx,
        person: person::Model,
        records: &[crate::domain::Record],
        pair: Pair,
        author: &Author<'_>,
    ) -> Result<person::Model, ApiError> {
        let Pair { acquired, lost, period: (start, end) } = pair;
        let change = qualification::pair_change(records, acquired, lost);
        let detail = qualification::pair_detail(records, change, lost);
        match change {
            PairChange::Unchanged => {}
            PairChange::Add => {
                validity::check_record(records, &detail, start, end, None, &self.inner.rules).map_err(rule_error)?;
                tx.insert_record(person.id, &detail, start, end, None, author).await.map_err(errors::db)?;
            }
            PairChange::Correct(id) => {
                validity::check_record(records, &detail, start, end, Some(id), &self.inner.rules)
                    .map_err(rule_error)?;
                let new =
                    tx.insert_record(person.id, &detail, start, end, Some(id), author).await.map_err(errors::db)?;
                let old = active_row(tx, person.id, id).await?;
                let old_end = old.end_date;
                tx.update_record(old, SUPERSEDED, old_end, Some(new.id)).await.map_err(errors::db)?;
            }
        }
        refresh_pair(tx, person).await
    }

    /// Adds one period of any kind.
    #[allow(clippy::too_many_arguments)] // one helper for six RPCs whose requests share these fields
    pub(super) async fn record_period(
        &self,
        caller: &Caller,
        rpc: &'static str,
        request: &impl Message,
        request_id: &str,
        insurer_number: &str,
        insured_number: &str,
        expected_version: i64,
        parse: impl FnOnce(&mut Violations) -> Option<Period>,
    ) -> Result<(Option<pb::EligibilityRecord>, i64), ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", request_id);
        let person_key = convert::key(&mut v, "", insurer_number, insured_number);
        let period = parse(&mut v);
        let (person_key, (start, end, detail)) = validated(v, person_key.zip(period))?;
        Self::authorize_write(caller, &person_key)?;
        let key = IdempotencyKey::new(rpc, caller, request_id, request);
        if let Some(stored) = self.replayed_record(&key).await? {
            return Ok(stored);
        }
        let mut tx = self.begin().await?;
        let person = Self::locked_person(&tx, &person_key, expected_version).await?;
        let existing = tx.active_records(person.id).await.map_err(errors::db)?;
        validity::check_record(&existing, &detail, start, end, None, &self.inner.rules).map_err(rule_error)?;
        validity::check_copayment_for_age(&detail, start, person.birth_date).map_err(rule_error)?;
        check_span_after_birth(&detail, start, person.birth_date, "qualification")?;
        let author = Author { caller, reason: "" };
        let row = tx.insert_record(person.id, &detail, start, end, None, &author).await.map_err(errors::db)?;
        let person = if detail.kind() == Kind::Qualification { refresh_pair(&mut tx, person).await? } else { person };
        self.finish_record(tx, &person_key, &person, &row, &key).await
    }

    pub(super) async fn correct(
        &self,
        request: tonic::Request<pb::CorrectRecordRequest>,
    ) -> Result<(Option<pb::EligibilityRecord>, i64), ApiError> {
        use pb::correct_record_request::Replacement as R;
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &r.request_id);
        let person_key = convert::key(&mut v, "", &r.insurer_number, &r.insured_number);
        let record_id = record_id(&mut v, &r.record_id);
        reason(&mut v, &r.reason);
        let period = match &r.replacement {
            Some(R::Certification(c)) => convert::certification(&mut v, "certification", Some(c)),
            Some(R::Copayment(c)) => convert::copayment(&mut v, "copayment", Some(c)),
            Some(R::CostLimit(c)) => convert::cost_limit(&mut v, "cost_limit", Some(c)),
            Some(R::BenefitRestriction(c)) => convert::restriction(&mut v, "benefit_restriction", Some(c)),
            Some(R::ResidenceException(c)) => convert::residence(&mut v, "residence_exception", Some(c)),
            Some(R::CareManagement(c)) => convert::care_management(&mut v, "care_management", Some(c)),
            Some(R::Qualification(c)) => convert::qualification(&mut v, "qualification", Some(c)),
            None => {
                v.add("replacement", "is required: the corrected content of the same kind");
                None
            }
        };
        let correction = person_key.zip(record_id).zip(period).map(|((key, record_id), period)| Correction {
            key,
            record_id,
            period,
        });
        let Correction { key: person_key, record_id, period: (start, end, detail) } = validated(v, correction)?;
        Self::authorize_write(&caller, &person_key)?;
        let key = IdempotencyKey::new("CorrectRecord", &caller, &r.request_id, &r);
        if let Some(stored) = self.replayed_record(&key).await? {
            return Ok(stored);
        }
        let mut tx = self.begin().await?;
        let person = Self::locked_person(&tx, &person_key, r.expected_version).await?;
        let old = active_row(&tx, person.id, record_id).await?;
        if old.kind != crate::store::write::kind_code(&detail) {
            return Err(ApiError::failed_precondition(
                "CORRECTION_KIND_MISMATCH",
                "a correction replaces a record with one of the same kind",
            ));
        }
        let existing = tx.active_records(person.id).await.map_err(errors::db)?;
        validity::check_record(&existing, &detail, start, end, Some(record_id), &self.inner.rules)
            .map_err(rule_error)?;
        validity::check_copayment_for_age(&detail, start, person.birth_date).map_err(rule_error)?;
        check_span_after_birth(&detail, start, person.birth_date, "qualification")?;
        let author = Author { caller: &caller, reason: &r.reason };
        let new =
            tx.insert_record(person.id, &detail, start, end, Some(record_id), &author).await.map_err(errors::db)?;
        let old_end = old.end_date;
        tx.update_record(old, SUPERSEDED, old_end, Some(new.id)).await.map_err(errors::db)?;
        let person = if detail.kind() == Kind::Qualification { refresh_pair(&mut tx, person).await? } else { person };
        self.finish_record(tx, &person_key, &person, &new, &key).await
    }

    pub(super) async fn close(
        &self,
        request: tonic::Request<pb::CloseRecordRequest>,
    ) -> Result<(Option<pb::EligibilityRecord>, i64), ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &r.request_id);
        let person_key = convert::key(&mut v, "", &r.insurer_number, &r.insured_number);
        let record_id = record_id(&mut v, &r.record_id);
        reason(&mut v, &r.reason);
        let end = convert::date(&mut v, "end_date", r.end_date.as_ref());
        let ((person_key, record_id), end) = validated(v, person_key.zip(record_id).zip(end))?;
        Self::authorize_write(&caller, &person_key)?;
        let key = IdempotencyKey::new("CloseRecord", &caller, &r.request_id, &r);
        if let Some(stored) = self.replayed_record(&key).await? {
            return Ok(stored);
        }
        let mut tx = self.begin().await?;
        let person = Self::locked_person(&tx, &person_key, r.expected_version).await?;
        let row = active_row(&tx, person.id, record_id).await?;
        validity::check_order(row.start_date, Some(end)).map_err(rule_error)?;
        if row.end_date.is_some_and(|current| end > current) {
            return Err(ApiError::failed_precondition(
                "CLOSE_EXTENDS_PERIOD",
                "closing may shorten a period, not extend it; correct it instead",
            ));
        }
        let span = row.kind == QUALIFICATION;
        let updated = tx.update_record(row, ACTIVE, Some(end), None).await.map_err(errors::db)?;
        let person = if span { refresh_pair(&mut tx, person).await? } else { person };
        self.finish_record(tx, &person_key, &person, &updated, &key).await
    }

    pub(super) async fn void(
        &self,
        request: tonic::Request<pb::VoidRecordRequest>,
    ) -> Result<(Option<pb::EligibilityRecord>, i64), ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &r.request_id);
        let person_key = convert::key(&mut v, "", &r.insurer_number, &r.insured_number);
        let record_id = record_id(&mut v, &r.record_id);
        reason(&mut v, &r.reason);
        let (person_key, record_id) = validated(v, person_key.zip(record_id))?;
        Self::authorize_write(&caller, &person_key)?;
        let key = IdempotencyKey::new("VoidRecord", &caller, &r.request_id, &r);
        if let Some(stored) = self.replayed_record(&key).await? {
            return Ok(stored);
        }
        let mut tx = self.begin().await?;
        let person = Self::locked_person(&tx, &person_key, r.expected_version).await?;
        let row = active_row(&tx, person.id, record_id).await?;
        let span = row.kind == QUALIFICATION;
        if span {
            let existing = tx.active_records(person.id).await.map_err(errors::db)?;
            if qualification::spans(&existing).count() < 2 {
                return Err(ApiError::failed_precondition(
                    "QUALIFICATION_SPAN_REQUIRED",
                    "a person keeps at least one qualification span; correct it instead of voiding it",
                ));
            }
        }
        let end = row.end_date;
        let updated = tx.update_record(row, VOIDED, end, None).await.map_err(errors::db)?;
        let person = if span { refresh_pair(&mut tx, person).await? } else { person };
        self.finish_record(tx, &person_key, &person, &updated, &key).await
    }
}

/// The shape every record write answers with (the six Record* responses and Correct/Close/
/// Void share field numbers 1 and 2), stored once for replays.
#[derive(Clone, PartialEq, Message)]
struct RecordResponse {
    #[prost(message, optional, tag = "1")]
    record: Option<pb::EligibilityRecord>,
    #[prost(int64, tag = "2")]
    person_version: i64,
}

/// The stored kind code of a qualification span.
const QUALIFICATION: i16 = 7;

/// After a change to the person's qualification spans, the person's own pair follows the
/// latest span (what InsuredPerson shows; docs/domain/eligibility.md#qualification).
async fn refresh_pair(tx: &mut WriteTx, person: person::Model) -> Result<person::Model, ApiError> {
    let records = tx.active_records(person.id).await.map_err(errors::db)?;
    match qualification::latest(&records) {
        Some((acquired, lost)) if (Some(acquired), lost) != (person.acquired_date, person.lost_date) => {
            tx.set_pair(&person, acquired, lost).await.map_err(errors::db)
        }
        _ => Ok(person),
    }
}

/// A qualification span does not start before the person's birth date (a violation of
/// `{field}.acquired_date`).
fn check_span_after_birth(
    detail: &Detail,
    start: chrono::NaiveDate,
    birth: Option<chrono::NaiveDate>,
    field: &str,
) -> Result<(), ApiError> {
    if matches!(detail, Detail::Qualification { .. }) && birth.is_some_and(|birth| start < birth) {
        let mut v = Violations::new();
        v.add(format!("{field}.acquired_date"), "cannot be before the person's birth date");
        return Err(ApiError::invalid_argument(v));
    }
    Ok(())
}

async fn active_row(tx: &WriteTx, person_id: i64, record_id: i64) -> Result<crate::store::record::Model, ApiError> {
    let row = tx
        .record(person_id, record_id)
        .await
        .map_err(errors::db)?
        .ok_or_else(|| ApiError::not_found("RECORD_NOT_FOUND", "no such record for this person"))?;
    if row.state != ACTIVE {
        return Err(ApiError::failed_precondition(
            "RECORD_NOT_ACTIVE",
            "the record was superseded or voided; act on its successor",
        ));
    }
    Ok(row)
}

/// Longest record id: an i64 in decimal has at most 19 digits.
const MAX_RECORD_ID: usize = 19;
/// Longest reason of a correction, closing or voiding, in characters (as documented).
const MAX_REASON: usize = 500;

/// A record id: the decimal number the record's `record_id` carries, at most 19 digits.
fn record_id(v: &mut Violations, raw: &str) -> Option<i64> {
    if raw.len() > MAX_RECORD_ID || !raw.bytes().all(|b| b.is_ascii_digit()) {
        v.add("record_id", "must be a record id: a decimal number of at most 19 digits");
        return None;
    }
    v.check("record_id", raw.parse::<i64>().map_err(|_| "must be a record id"))
}

/// The reason kept in history: at most [`MAX_REASON`] characters.
fn reason(v: &mut Violations, raw: &str) {
    kaigo_platform::validate::max_chars(v, "reason", raw, MAX_REASON);
}

fn check_version(current: i64, expected: i64) -> Result<(), ApiError> {
    if current == expected {
        Ok(())
    } else {
        Err(ApiError::aborted("STALE_VERSION", "the person changed since it was read; read it again and retry")
            .with_metadata("current-version", current.to_string()))
    }
}

/// Longest 氏名 or フリガナ, in characters (as documented).
const MAX_NAME: usize = 100;

/// A person's own 資格取得年月日 and 資格喪失年月日 as validated, with the record period they
/// make (docs/domain/eligibility.md#qualification): a write of the pair never asks again
/// whether the period exists.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair {
    acquired: chrono::NaiveDate,
    lost: Option<chrono::NaiveDate>,
    /// The first and the last day insured.
    period: (chrono::NaiveDate, Option<chrono::NaiveDate>),
}

/// A person from the wire, without its pair's period ([`validated_person`]).
pub(super) fn person_from_wire(v: &mut Violations, p: &pb::InsuredPerson) -> Option<person::Model> {
    validated_person(v, p).map(|(person, _)| person)
}

/// A person from the wire and its validated pair; `None` after adding the violations.
pub(super) fn validated_person(v: &mut Violations, p: &pb::InsuredPerson) -> Option<(person::Model, Pair)> {
    if p.name_kanji.trim().is_empty() {
        v.add("person.name_kanji", "is required");
    }
    kaigo_platform::validate::max_chars(v, "person.name_kanji", &p.name_kanji, MAX_NAME);
    kaigo_platform::validate::max_chars(v, "person.name_kana", &p.name_kana, MAX_NAME);
    let sex = match p.sex {
        1 | 2 => Some(p.sex as i16),
        _ => {
            v.add("person.sex", "must be SEX_MALE or SEX_FEMALE");
            None
        }
    };
    let category = match p.insured_category {
        1 | 2 => Some(p.insured_category as i16),
        _ => {
            v.add("person.insured_category", "must be 第1号 (FIRST) or 第2号 (SECOND)");
            None
        }
    };
    let birth = convert::date(v, "person.birth_date", p.birth_date.as_ref());
    let acquired = convert::date(v, "person.qualification_acquired_date", p.qualification_acquired_date.as_ref());
    let lost = convert::optional_date(v, "person.qualification_lost_date", p.qualification_lost_date.as_ref());
    let issued = convert::optional_date(v, "person.card_issued_date", p.card_issued_date.as_ref());
    let period = match (acquired, lost) {
        (Some(a), Some(l)) => {
            let period = qualification::record_period(a, l);
            if period.is_none() {
                v.add("person.qualification_lost_date", "must be after the acquisition date");
            }
            period
        }
        _ => None,
    };
    if let (Some(b), Some(a)) = (birth, acquired)
        && a < b
    {
        v.add("person.qualification_acquired_date", "cannot be before the birth date");
    }
    let person = person::Model {
        id: 0,
        insurer_number: p.insurer_number.clone(),
        insured_number: p.insured_number.clone(),
        name_kanji: p.name_kanji.clone(),
        name_kana: p.name_kana.clone(),
        birth_date: Some(birth?),
        sex: sex?,
        category: category?,
        acquired_date: Some(acquired?),
        lost_date: lost?,
        card_issued_date: issued?,
        version: 0,
        // Stamped when saved.
        updated_at: chrono::DateTime::UNIX_EPOCH,
    };
    Some((person, Pair { acquired: acquired?, lost: lost?, period: period? }))
}
