//! CheckEligibility, BatchCheckEligibility and GetEligibilityHistory: the hot path.

use chrono::NaiveDate;
use futures::StreamExt;
use kaigo_platform::access::{Category, Decision, Facts, PersonRef};
use kaigo_platform::audit::{self, ReadRecord};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors;
use kaigo_platform::{ApiError, Violations};
use kaigo_proto::from_naive_date;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;

use super::{Api, MAX_BATCH, convert, validated};
use std::sync::Arc;

use crate::cache::{Cached, Entry};
use crate::domain::access::{self, Visibility};
use crate::domain::{Verdict, qualification};
use crate::key::PersonKey;
use crate::store::ACTIVE;
use crate::store::PersonDetails;

/// The audit trail's category of every read here.
const CATEGORY: &str = "eligibility";

/// The audit trail's key of the person `key` names.
fn person_of(key: &PersonKey) -> String {
    audit::person(key.insurer(), key.insured())
}

/// One validated query.
struct Query {
    key: PersonKey,
    as_of: NaiveDate,
}

impl Query {
    fn person(&self) -> PersonRef<'_> {
        PersonRef::new(self.key.insurer(), self.key.insured())
    }
}

fn verdict_to_wire(verdict: Verdict) -> pb::EligibilityVerdict {
    use pb::EligibilityVerdict as V;
    match verdict {
        Verdict::Eligible => V::Eligible,
        Verdict::NotInsured => V::NotInsured,
        Verdict::QualificationLost => V::QualificationLost,
        Verdict::NotCertified => V::NotCertified,
        Verdict::CertificationExpired => V::CertificationExpired,
        Verdict::NotYetQualified => V::NotYetQualified,
        Verdict::AssessedNotApplicable => V::AssessedNotApplicable,
        Verdict::ProgrammeOnly => V::ProgrammeOnly,
    }
}

fn outcome(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Eligible => "ELIGIBLE",
        Verdict::NotInsured => "NOT_INSURED",
        Verdict::QualificationLost => "QUALIFICATION_LOST",
        Verdict::NotCertified => "NOT_CERTIFIED",
        Verdict::CertificationExpired => "CERTIFICATION_EXPIRED",
        Verdict::NotYetQualified => "NOT_YET_QUALIFIED",
        Verdict::AssessedNotApplicable => "ASSESSED_NOT_APPLICABLE",
        Verdict::ProgrammeOnly => "PROGRAMME_ONLY",
    }
}

/// What [`Api::answer_entry`] made of an entry.
#[allow(clippy::large_enum_variant)] // the answer nearly always; boxing it would cost an allocation each
enum Answered {
    /// The answer, with the outcome the audit trail records.
    Done(pb::EligibilityResult, &'static str),
    /// The answer needs the person's details, which the entry does not hold.
    NeedsDetails(Arc<Cached>),
}

/// The outcome of a batch in which some persons were answered and some refused.
const PARTLY_DENIED: &str = "partly_denied";

/// The fields of one query, borrowed from the request (CheckEligibility's own fields or a
/// batch entry).
struct QueryFields<'a> {
    insurer_number: &'a str,
    insured_number: &'a str,
    as_of: Option<&'a kaigo_proto::google::r#type::Date>,
    consent_reference: &'a str,
}

fn purpose_name(purpose: i32) -> String {
    common::Purpose::try_from(purpose)
        .map(|p| p.as_str_name().to_owned())
        .unwrap_or_else(|_| "PURPOSE_UNSPECIFIED".to_owned())
}

impl Api {
    /// Records one call's read of `persons` in the audit trail (queued; written off the
    /// request path).
    async fn audit(
        &self,
        caller: &Caller,
        rpc: &'static str,
        purpose: String,
        persons: Vec<String>,
        outcome: &'static str,
    ) {
        let read = ReadRecord { rpc, category: CATEGORY, purpose, outcome, persons, resources: Vec::new() };
        self.inner.auditor.record(caller, read).await;
    }

    /// The request's `consent_reference` is still checked for length, so existing clients
    /// keep working, but it grants nothing (docs/domain/access.md#consent).
    fn parse_query(&self, v: &mut Violations, prefix: &str, q: QueryFields<'_>) -> Option<Query> {
        let key = convert::key(v, prefix, q.insurer_number, q.insured_number);
        let as_of = match q.as_of {
            None => Some(self.inner.clock.today_jst()),
            Some(d) => v.check_at(format_args!("{prefix}as_of"), kaigo_proto::to_naive_date(d)),
        };
        // The path is formatted only for a reference that is too long.
        if q.consent_reference.len() > 128 {
            kaigo_platform::validate::max_chars(v, &format!("{prefix}consent_reference"), q.consent_reference, 128);
        }
        Some(Query { key: key?, as_of: as_of? })
    }

    /// The decision that needs no lookup: insurers (their own insured only) and operators
    /// (never) are decided on the caller alone, before the cache is touched (permission
    /// before existence). Organisations and persons (their own record, by its identity links)
    /// pass here and are decided in [`Api::answer`] on the person's facts.
    fn decide_before_lookup(&self, caller: &Caller, q: &Query) -> Result<(), ApiError> {
        if access::needs_facts(caller.role) {
            return Ok(());
        }
        self.inner.gate.decide(caller, q.person(), Category::InsuranceCertificates, q.as_of, &Facts::default())
    }

    /// Answers one validated query the caller may ask, with the outcome the audit trail
    /// records (the verdict). The caller records the read.
    async fn answer(&self, caller: &Caller, q: &Query) -> Result<(pb::EligibilityResult, &'static str), ApiError> {
        self.answer_from(caller, q, None).await
    }

    /// [`Api::answer`] from the entry L1 already gave (`found`), or from the cache.
    async fn answer_from(
        &self,
        caller: &Caller,
        q: &Query,
        found: Option<Entry>,
    ) -> Result<(pb::EligibilityResult, &'static str), ApiError> {
        let entry = match found {
            Some(entry) => entry,
            None => self.inner.cache.get(q.key).await.map(|(entry, _tier)| entry).map_err(errors::db_shared)?,
        };
        match self.answer_entry(caller, q, &entry, None)? {
            Answered::Done(result, outcome) => Ok((result, outcome)),
            Answered::NeedsDetails(cached) => {
                // The entry came without the personal details (an L2 value cached without them):
                // read once from the database, then answer with them.
                // Boxed for the same reason as a cache miss (Cache::get): rare, and large.
                let details = Box::pin(self.inner.cache.details(q.key, &cached)).await.map_err(errors::db)?;
                match self.answer_entry(caller, q, &entry, Some(details.as_ref()))? {
                    Answered::Done(result, outcome) => Ok((result, outcome)),
                    Answered::NeedsDetails(_) => Err(ApiError::internal("the details read did not answer")),
                }
            }
        }
    }

    /// [`Api::answer`] on `entry`, without waiting for anything: the answer, or
    /// [`Answered::NeedsDetails`] when it needs personal details the entry does not hold and
    /// `fetched` (the details read from the database for it: `Some(None)` for a person no
    /// longer there) does not give. A batch answers the entries L1 holds this way, in place
    /// (no future per entry: loadtest/README.md#batch-profile).
    fn answer_entry(
        &self,
        caller: &Caller,
        q: &Query,
        entry: &Entry,
        fetched: Option<Option<&PersonDetails>>,
    ) -> Result<Answered, ApiError> {
        // docs/domain/access.md#in-kaigo: an organisation sees the answer only with
        // INSURANCE_CERTIFICATES, and its cost-share sections only with COST_SHARE, decided on
        // the facts cached with the person (the same refusal whether or not the person exists).
        let gate = &self.inner.gate;
        let facts = entry.facts();
        if access::needs_facts(caller.role) {
            gate.decide(caller, q.person(), Category::InsuranceCertificates, q.as_of, facts)?;
        }
        let cost_share = gate.allows(caller, q.person(), Category::CostShare, q.as_of, facts) == Decision::Allowed;
        let mut result = pb::EligibilityResult {
            insurer_number: q.key.insurer().to_owned(),
            insured_number: q.key.insured().to_owned(),
            as_of: Some(from_naive_date(q.as_of)),
            ..Default::default()
        };
        let cached = match entry {
            Entry::Unknown(_) => {
                result.verdict = pb::EligibilityVerdict::NotInsured as i32;
                return Ok(Answered::Done(result, "NOT_INSURED"));
            }
            Entry::Known(cached) => cached,
        };
        let timeline = &cached.timeline;
        let assessment = timeline.assess(q.as_of);
        let visible = Visibility::of(cost_share);
        // The birth date (for the category) and the personal details come from the entry, or
        // from the database when it was cached without them (never readable in Redis).
        let wants_category = !matches!(assessment.verdict, Verdict::NotYetQualified | Verdict::QualificationLost);
        let details = match (&cached.details, fetched) {
            (Some(details), _) => Some(details),
            (None, Some(fetched)) => fetched,
            (None, None) if wants_category || visible.personal_details => {
                return Ok(Answered::NeedsDetails(Arc::clone(cached)));
            }
            (None, None) => None,
        };
        result.verdict = verdict_to_wire(assessment.verdict) as i32;
        // The span in force, or the last one that ended (docs/domain/eligibility.md#qualification);
        // the person's own pair for a person recorded without spans.
        let (acquired, lost) = match (assessment.verdict, assessment.qualification) {
            (Verdict::NotYetQualified, _) => (None, None),
            (_, Some(span)) => (Some(span.start), qualification::lost_date(span)),
            (_, None) => (timeline.person.acquired, timeline.person.lost),
        };
        result.qualification_acquired_date = acquired.map(from_naive_date);
        result.qualification_lost_date = lost.map(from_naive_date);
        if wants_category {
            // The category on the date, from the birth date (docs/domain/eligibility.md#category-at-65).
            let birth = details.and_then(|d| d.birth_date);
            let category = qualification::category_on(q.as_of, birth).unwrap_or(timeline.person.category);
            result.insured_category = convert::category_to_wire(category) as i32;
        }
        result.data_version = timeline.person.version;
        result.last_changed_time = Some(prost_types::Timestamp { seconds: timeline.person.changed_at, nanos: 0 });

        let mut withheld = Vec::new();
        if visible.certificate {
            result.certification = assessment.certification.and_then(|r| match convert::details_to_wire(r) {
                pb::eligibility_record::Details::Certification(c) => Some(c),
                _ => None,
            });
            result.benefit_restrictions = assessment
                .restrictions
                .iter()
                .filter_map(|r| match convert::details_to_wire(r) {
                    pb::eligibility_record::Details::BenefitRestriction(b) => Some(b),
                    _ => None,
                })
                .collect();
            result.residence_exception =
                assessment.residence_exception.and_then(|r| match convert::details_to_wire(r) {
                    pb::eligibility_record::Details::ResidenceException(x) => Some(x),
                    _ => None,
                });
            result.care_management = assessment.care_management.and_then(|r| match convert::details_to_wire(r) {
                pb::eligibility_record::Details::CareManagement(x) => Some(x),
                _ => None,
            });
        } else {
            withheld.push(pb::WithheldSection::Certificate as i32);
        }
        if visible.copayment {
            // The ratio the user pays, raised under 給付額減額 (docs/domain/eligibility.md#benefit-reduction).
            let (copayment, certificate_ratio) = convert::copayment_answer(&assessment);
            result.copayment = copayment;
            result.certificate_copayment_ratio = certificate_ratio as i32;
        } else {
            withheld.push(pb::WithheldSection::Copayment as i32);
        }
        if visible.cost_limit {
            result.cost_limit = assessment.cost_limit.and_then(|r| match convert::details_to_wire(r) {
                pb::eligibility_record::Details::CostLimit(x) => Some(x),
                _ => None,
            });
        } else {
            withheld.push(pb::WithheldSection::CostLimit as i32);
        }
        if visible.personal_details {
            result.person = details.map(|d| pb::PersonDetails {
                name_kanji: d.name_kanji.clone(),
                name_kana: d.name_kana.clone(),
                birth_date: d.birth_date.map(from_naive_date),
                sex: i32::from(d.sex),
            });
        } else {
            withheld.push(pb::WithheldSection::PersonalDetails as i32);
        }
        result.withheld = withheld;
        Ok(Answered::Done(result, outcome(assessment.verdict)))
    }

    pub(super) async fn check(
        &self,
        request: tonic::Request<pb::CheckEligibilityRequest>,
    ) -> Result<pb::CheckEligibilityResponse, ApiError> {
        // The hot path: the caller and the request are borrowed, never copied.
        let caller = Caller::from_request(&request)?;
        let r = request.get_ref();
        let mut v = Violations::new();
        let fields = QueryFields {
            insurer_number: &r.insurer_number,
            insured_number: &r.insured_number,
            as_of: r.as_of.as_ref(),
            consent_reference: &r.consent_reference,
        };
        let parsed = self.parse_query(&mut v, "", fields);
        if common::Purpose::try_from(r.purpose).is_err() {
            v.add("purpose", "is not a known purpose");
        }
        let q = validated(v, parsed)?;
        let purpose = purpose_name(r.purpose);
        let answered = match self.decide_before_lookup(caller, &q) {
            Ok(()) => self.answer(caller, &q).await,
            Err(denied) => Err(denied),
        };
        let (result, outcome) = match answered {
            Ok(answer) => answer,
            Err(err) => {
                if err.code() == tonic::Code::PermissionDenied {
                    self.audit(caller, "CheckEligibility", purpose, vec![person_of(&q.key)], audit::DENIED).await;
                }
                return Err(err);
            }
        };
        self.audit(caller, "CheckEligibility", purpose, vec![person_of(&q.key)], outcome).await;
        Ok(pb::CheckEligibilityResponse { result: Some(result) })
    }

    /// One call, one audit record: every person the batch named validly, answered or denied.
    pub(super) async fn batch(
        &self,
        request: tonic::Request<pb::BatchCheckEligibilityRequest>,
    ) -> Result<pb::BatchCheckEligibilityResponse, ApiError> {
        let caller = Caller::from_request(&request)?;
        let r = request.get_ref();
        if r.queries.len() > MAX_BATCH {
            let mut v = Violations::new();
            v.add("queries", format!("at most {MAX_BATCH} queries per call; split the batch"));
            v.into_result()?;
        }
        let purpose = purpose_name(r.purpose);
        let mut persons = Vec::with_capacity(r.queries.len());
        // Each entry stands alone: a bad or forbidden entry becomes its own error.
        // An entry refused before its lookup carries `true` (denied), a bad one `false`.
        let mut prepared: Vec<Result<Query, (bool, pb::EntryError)>> = Vec::with_capacity(r.queries.len());
        for (i, q) in r.queries.iter().enumerate() {
            let index = i32::try_from(i).unwrap_or(i32::MAX);
            let fields = || QueryFields {
                insurer_number: &q.insurer_number,
                insured_number: &q.insured_number,
                as_of: q.as_of.as_ref(),
                consent_reference: &q.consent_reference,
            };
            // Parsed without a field prefix first: a valid entry (nearly all) then costs no
            // formatted path; a bad one is parsed again to name its fields `queries[i].…`.
            let mut v = Violations::new();
            let mut parsed = self.parse_query(&mut v, "", fields());
            if !v.is_empty() {
                v = Violations::new();
                parsed = self.parse_query(&mut v, &format!("queries[{i}]."), fields());
            }
            prepared.push(match validated(v, parsed) {
                Ok(query) => {
                    persons.push(person_of(&query.key));
                    match self.decide_before_lookup(caller, &query) {
                        Ok(()) => Ok(query),
                        Err(refusal) => Err((true, entry_error(index, &refusal))),
                    }
                }
                Err(invalid) => Err((false, entry_error(index, &invalid))),
            });
        }
        // Entries whose person L1 holds are answered in place, one after the other, straight
        // into the response: no I/O, no future per entry moved through a stream, no second
        // vector (profiled: those moves and allocations were most of a batch's time,
        // loadtest/README.md#batch-profile). The misses go to Redis or the database, a bounded
        // number at a time. Each answered entry is decided on its person's own facts
        // (Api::answer).
        let mut entries: Vec<pb::BatchCheckEligibilityEntry> = Vec::with_capacity(prepared.len());
        let mut tally = Tally::default();
        let mut misses = Vec::new();
        for (i, prepared) in prepared.into_iter().enumerate() {
            let index = i32::try_from(i).unwrap_or(i32::MAX);
            let q = match prepared {
                Ok(q) => q,
                Err((denied, err)) => {
                    tally.count(denied.then_some(true));
                    entries.push(pb::BatchCheckEligibilityEntry {
                        index,
                        outcome: Some(pb::batch_check_eligibility_entry::Outcome::Error(err)),
                    });
                    continue;
                }
            };
            let answered = match self.inner.cache.get_l1(&q.key).await {
                Some(entry) => match self.answer_entry(caller, &q, &entry, None) {
                    Ok(Answered::Done(result, _)) => Ok((result, "")),
                    Ok(Answered::NeedsDetails(_)) => {
                        misses.push((i, q, Some(entry)));
                        entries.push(pb::BatchCheckEligibilityEntry { index, outcome: None });
                        continue;
                    }
                    Err(err) => Err(err),
                },
                None => {
                    misses.push((i, q, None));
                    entries.push(pb::BatchCheckEligibilityEntry { index, outcome: None });
                    continue;
                }
            };
            let (denied, outcome) = entry_outcome(index, answered);
            tally.count(denied);
            entries.push(pb::BatchCheckEligibilityEntry { index, outcome: Some(outcome) });
        }
        // The persons L1 lacks are asked of L2 in one round trip; the ones it lacks too are read
        // from the database, together with other concurrent misses (cache::misses).
        let unknown: Vec<PersonKey> =
            misses.iter().filter(|(_, _, found)| found.is_none()).map(|(_, q, _)| q.key).collect();
        let mut from_l2 = self.inner.cache.get_many_from_l2(&unknown).await.into_iter();
        let misses: Vec<(usize, Query, Option<Entry>, bool)> = misses
            .into_iter()
            .map(|(i, q, found)| match found {
                Some(entry) => (i, q, Some(entry), false),
                None => {
                    let l2 = from_l2.next().flatten();
                    let load = l2.is_none();
                    (i, q, l2, load)
                }
            })
            .collect();
        let loaded: Vec<(usize, Option<bool>, pb::batch_check_eligibility_entry::Outcome)> =
            futures::stream::iter(misses)
                .map(|(i, q, found, load)| async move {
                    let index = i32::try_from(i).unwrap_or(i32::MAX);
                    let found = match load {
                        true => self.inner.cache.load_missing(q.key).await.map(Some).map_err(errors::db_shared),
                        false => Ok(found),
                    };
                    let answered = match found {
                        Ok(found) => self.answer_from(caller, &q, found).await,
                        Err(err) => Err(err),
                    };
                    let (denied, outcome) = entry_outcome(index, answered);
                    (i, denied, outcome)
                })
                .buffered(64)
                .collect()
                .await;
        for (i, denied, outcome) in loaded {
            tally.count(denied);
            entries[i].outcome = Some(outcome);
        }
        if !persons.is_empty() {
            let outcome = match (tally.allowed, tally.denied) {
                (_, 0) => audit::ALLOWED,
                (0, _) => audit::DENIED,
                _ => PARTLY_DENIED,
            };
            self.audit(caller, "BatchCheckEligibility", purpose, persons, outcome).await;
        }
        Ok(pb::BatchCheckEligibilityResponse { entries })
    }

    pub(super) async fn history(
        &self,
        request: tonic::Request<pb::GetEligibilityHistoryRequest>,
    ) -> Result<pb::GetEligibilityHistoryResponse, ApiError> {
        let caller = Caller::from_request(&request)?;
        let r = request.get_ref();
        let mut v = Violations::new();
        let key = convert::key(&mut v, "", &r.insurer_number, &r.insured_number);
        let key = validated(v, key)?;
        let purpose = purpose_name(r.purpose);
        let rpc = "GetEligibilityHistory";
        if !access::may_read_history(caller, key.insurer()) {
            self.audit(caller, rpc, purpose, vec![person_of(&key)], audit::DENIED).await;
            return Err(ApiError::permission_denied(
                "HISTORY_INSURER_ONLY",
                "only the person's own insurer reads the full history",
            ));
        }
        // A replica, unless this person has a write it has not replayed (the cache's fences).
        let db = &self.inner.cache.reads().for_key(key.as_bytes());
        let Some(person) = crate::store::find_person(db, &key).await.map_err(errors::db)? else {
            self.audit(caller, rpc, purpose, vec![person_of(&key)], audit::NOT_FOUND).await;
            return Err(ApiError::not_found("PERSON_NOT_FOUND", "no such insured person at this insurer"));
        };
        let rows = crate::store::history(db, person.id).await.map_err(errors::db)?;
        let mut records = Vec::with_capacity(rows.len());
        let mut active = Vec::new();
        for row in rows.iter().filter(|row| r.include_inactive || row.state == ACTIVE) {
            records.push(record_to_wire(row)?);
            if row.state == ACTIVE {
                active.push(crate::store::to_domain(row).map_err(ApiError::internal)?);
            }
        }
        // 第1号/第2号 over the spans (docs/domain/eligibility.md#category-at-65).
        let category_periods = qualification::category_periods(&active, person.birth_date)
            .into_iter()
            .map(|(category, start, end)| pb::InsuredCategoryPeriod {
                category: convert::category_to_wire(category) as i32,
                period: Some(common::Period { start: Some(from_naive_date(start)), end: end.map(from_naive_date) }),
            })
            .collect();
        self.audit(caller, rpc, purpose, vec![person_of(&key)], audit::ALLOWED).await;
        Ok(pb::GetEligibilityHistoryResponse { person: Some(person_to_wire(&person)), records, category_periods })
    }
}

/// A batch's entries that named a person validly: answered, or refused.
#[derive(Default)]
struct Tally {
    allowed: usize,
    denied: usize,
}

impl Tally {
    /// Counts an entry: `Some(denied?)` for one that named a person validly, `None` for bad input.
    fn count(&mut self, denied: Option<bool>) {
        match denied {
            Some(true) => self.denied += 1,
            Some(false) => self.allowed += 1,
            None => {}
        }
    }
}

/// A batch entry's outcome from its answer, with `Some(denied?)` ([`Tally::count`]).
fn entry_outcome(
    index: i32,
    answered: Result<(pb::EligibilityResult, &'static str), ApiError>,
) -> (Option<bool>, pb::batch_check_eligibility_entry::Outcome) {
    match answered {
        Ok((result, _)) => (Some(false), pb::batch_check_eligibility_entry::Outcome::Result(result)),
        Err(err) => (
            Some(err.code() == tonic::Code::PermissionDenied),
            pb::batch_check_eligibility_entry::Outcome::Error(entry_error(index, &err)),
        ),
    }
}

fn entry_error(index: i32, err: &ApiError) -> pb::EntryError {
    pb::EntryError {
        index,
        reason: err.reason().to_owned(),
        message: err.to_string(),
        violations: err
            .violations()
            .iter()
            .map(|v| common::FieldViolation {
                field: v.field.clone(),
                reason: String::new(),
                description: v.description.clone(),
            })
            .collect(),
    }
}

/// A stored person as the wire's InsuredPerson.
pub(crate) fn person_to_wire(p: &crate::store::person::Model) -> pb::InsuredPerson {
    pb::InsuredPerson {
        insurer_number: p.insurer_number.clone(),
        insured_number: p.insured_number.clone(),
        name_kanji: p.name_kanji.clone(),
        name_kana: p.name_kana.clone(),
        birth_date: p.birth_date.map(from_naive_date),
        sex: i32::from(p.sex),
        insured_category: i32::from(p.category),
        qualification_acquired_date: p.acquired_date.map(from_naive_date),
        qualification_lost_date: p.lost_date.map(from_naive_date),
        card_issued_date: p.card_issued_date.map(from_naive_date),
        version: p.version,
        update_time: Some(prost_types::Timestamp { seconds: p.updated_at.timestamp(), nanos: 0 }),
    }
}

/// A stored record as the wire's EligibilityRecord.
pub(crate) fn record_to_wire(row: &crate::store::record::Model) -> Result<pb::EligibilityRecord, ApiError> {
    let record = crate::store::to_domain(row).map_err(ApiError::internal)?;
    let state = convert::state_to_wire(row.state);
    Ok(pb::EligibilityRecord {
        record_id: row.id.to_string(),
        kind: i32::from(row.kind),
        state: state as i32,
        supersedes_record_id: row.supersedes.map(|id| id.to_string()).unwrap_or_default(),
        superseded_by_record_id: row.superseded_by.map(|id| id.to_string()).unwrap_or_default(),
        record_time: Some(prost_types::Timestamp { seconds: row.recorded_at.timestamp(), nanos: 0 }),
        recorded_by: Some(convert::recorded_by(&row.recorded_by_role, &row.recorded_by_subject, &row.recorded_by_org)),
        change_reason: row.change_reason.clone(),
        details: Some(convert::details_to_wire(&record)),
    })
}
