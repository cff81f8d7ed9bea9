//! ImportInsuredPersons: an insurer's full extract, streamed in chunks.
//!
//! Every row is validated on its own; a bad row is reported with its line number and the
//! import goes on. Valid rows are applied a chunk at a time in one transaction each (bulk
//! statements), persons identical to what is stored are skipped, so re-running the same file
//! changes nothing and only changed persons are invalidated in the caches. Reading and
//! validating the next chunk overlaps the current chunk's transaction.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use kaigo_platform::auth::Caller;
use kaigo_platform::{ApiError, Violations};
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use tokio::sync::mpsc;

use super::write::person_from_wire;
use super::{Api, convert};
use crate::cache::Cached;
use crate::domain::{Detail, Record, Timeline, access, qualification, validity};
use crate::key::PersonKey;
use crate::store::{self, bulk::ImportPerson};

/// The response stream.
pub type ImportStream = Pin<Box<dyn Stream<Item = Result<pb::ImportInsuredPersonsResponse, tonic::Status>> + Send>>;

type Event = pb::import_insured_persons_response::Event;

/// Most rows one chunk may carry (as documented; the CLI sends 2,000).
const MAX_CHUNK_ROWS: usize = 10_000;
/// Most periods of one kind one import row may carry (as documented).
const MAX_ROW_PERIODS: usize = 100;

fn row_error(line: i64, err: &ApiError) -> Event {
    Event::RowError(pb::ImportRowError {
        line_number: line,
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
    })
}

/// The row's qualification spans (docs/domain/eligibility.md#qualification): its
/// `qualifications`, and the span the person's own pair states unless an entry equals it. A
/// row without `qualifications` states one span, as rows did before spans.
fn qualification_spans(
    v: &mut Violations,
    row: &pb::ImportRow,
    person: Option<&crate::store::person::Model>,
) -> Vec<Record> {
    let birth = person.and_then(|p| p.birth_date);
    let mut spans: Vec<Record> = Vec::new();
    for (i, span) in row.qualifications.iter().enumerate() {
        let field = format!("qualifications[{i}]");
        if let Some((start, end, detail)) = convert::qualification(v, &field, Some(span)) {
            if birth.is_some_and(|birth| start < birth) {
                v.add(format!("{field}.acquired_date"), "cannot be before the person's birth date");
            }
            spans.push(Record { id: i as i64, start, end, detail });
        }
    }
    let pair = person.and_then(|p| p.acquired_date.map(|acquired| (acquired, p.lost_date)));
    if let Some((start, end)) = pair.and_then(|(acquired, lost)| qualification::record_period(acquired, lost))
        && !spans.iter().any(|s| s.start == start && s.end == end)
    {
        let id = spans.len() as i64;
        spans.push(Record { id, start, end, detail: Detail::Qualification { acquisition: 0, loss: 0 } });
    }
    spans
}

impl Api {
    fn import_row(&self, insurer: &str, row: &pb::ImportRow) -> Result<ImportPerson, ApiError> {
        let mut v = Violations::new();
        let Some(p) = row.person.as_ref() else {
            v.add("person", "is required");
            return Err(ApiError::invalid_argument(v));
        };
        if p.insurer_number != insurer {
            v.add("person.insurer_number", "must be the import's insurer");
        }
        let key = convert::key(&mut v, "person.", &p.insurer_number, &p.insured_number);
        let person = person_from_wire(&mut v, p);
        // Counts only: a list beyond its maximum is one violation and its entries are not read.
        let lists = [
            ("certifications", row.certifications.len()),
            ("copayments", row.copayments.len()),
            ("cost_limits", row.cost_limits.len()),
            ("benefit_restrictions", row.benefit_restrictions.len()),
            ("residence_exceptions", row.residence_exceptions.len()),
            ("care_managements", row.care_managements.len()),
            ("qualifications", row.qualifications.len()),
        ];
        let mut too_long = false;
        for (field, len) in lists {
            if len > MAX_ROW_PERIODS {
                v.add(field, format!("at most {MAX_ROW_PERIODS} entries; {len} given"));
                too_long = true;
            }
        }
        if too_long {
            return Err(ApiError::invalid_argument(v));
        }
        let mut periods = Vec::new();
        periods.extend(
            row.certifications
                .iter()
                .enumerate()
                .filter_map(|(i, c)| convert::certification(&mut v, &format!("certifications[{i}]"), Some(c))),
        );
        periods.extend(
            row.copayments
                .iter()
                .enumerate()
                .filter_map(|(i, c)| convert::copayment(&mut v, &format!("copayments[{i}]"), Some(c))),
        );
        periods.extend(
            row.cost_limits
                .iter()
                .enumerate()
                .filter_map(|(i, c)| convert::cost_limit(&mut v, &format!("cost_limits[{i}]"), Some(c))),
        );
        periods.extend(
            row.benefit_restrictions
                .iter()
                .enumerate()
                .filter_map(|(i, c)| convert::restriction(&mut v, &format!("benefit_restrictions[{i}]"), Some(c))),
        );
        periods.extend(
            row.residence_exceptions
                .iter()
                .enumerate()
                .filter_map(|(i, c)| convert::residence(&mut v, &format!("residence_exceptions[{i}]"), Some(c))),
        );
        periods.extend(
            row.care_managements
                .iter()
                .enumerate()
                .filter_map(|(i, c)| convert::care_management(&mut v, &format!("care_managements[{i}]"), Some(c))),
        );
        let uses = import_uses(&mut v, row);
        let spans = qualification_spans(&mut v, row, person.as_ref());
        // A part missing here has its violation recorded above.
        let (Some(key), Some(mut person)) = (key, person) else { return Err(ApiError::invalid_argument(v)) };
        // The person's own pair shows the latest span, as after single writes.
        if let Some((acquired, lost)) = qualification::latest(&spans) {
            (person.acquired_date, person.lost_date) = (Some(acquired), lost);
        }
        periods.extend(spans.into_iter().map(|r| (r.start, r.end, r.detail)));
        v.into_result()?;
        // The extract's periods must satisfy the same rules as single writes.
        let mut accepted: Vec<Record> = Vec::with_capacity(periods.len());
        for (i, (start, end, detail)) in periods.iter().enumerate() {
            validity::check_record(&accepted, detail, *start, *end, None, &self.inner.rules)
                .map_err(|v| ApiError::failed_precondition(v.reason, v.message))?;
            validity::check_copayment_for_age(detail, *start, person.birth_date)
                .map_err(|v| ApiError::failed_precondition(v.reason, v.message))?;
            accepted.push(Record { id: i as i64, start: *start, end: *end, detail: detail.clone() });
        }
        Ok(ImportPerson { key, person, periods, uses })
    }

    /// Runs an import; answers progress, row errors and a summary on the response stream.
    pub(super) async fn import(
        &self,
        request: tonic::Request<tonic::Streaming<pb::ImportInsuredPersonsRequest>>,
    ) -> Result<ImportStream, ApiError> {
        let caller: Caller = Caller::from_request(&request)?.clone();
        let mut incoming = request.into_inner();
        let header = match incoming.next().await {
            Some(Ok(pb::ImportInsuredPersonsRequest {
                payload: Some(pb::import_insured_persons_request::Payload::Header(h)),
            })) => h,
            Some(Err(status)) => {
                return Err(ApiError::invalid_argument({
                    let mut v = Violations::new();
                    v.add("header", format!("stream failed before the header: {}", status.message()));
                    v
                }));
            }
            _ => {
                let mut v = Violations::new();
                v.add("header", "the first message must be the import header");
                return Err(ApiError::invalid_argument(v));
            }
        };
        let mut v = Violations::new();
        kaigo_platform::idempotency::check_request_id(&mut v, "header.request_id", &header.request_id);
        v.check("header.insurer_number", kaigo_platform::ids::InsurerNumber::parse(&header.insurer_number));
        // It goes into the audit trail: bounded as the contract documents.
        kaigo_platform::validate::max_chars(&mut v, "header.source_name", &header.source_name, 256);
        if header.expected_rows < 0 {
            v.add("header.expected_rows", "must not be negative");
        }
        v.into_result()?;
        if !access::may_write(&caller, &header.insurer_number) {
            return Err(ApiError::permission_denied(
                "WRITE_OWN_INSURED_ONLY",
                "an insurer imports only its own insured persons",
            ));
        }
        let (tx, rx) = mpsc::channel::<Result<pb::ImportInsuredPersonsResponse, tonic::Status>>(64);
        // Two stages: this task reads and validates chunk N+1 while the writer applies chunk N
        // in its transaction (one chunk waits between them).
        let (chunks, pending) = mpsc::channel::<Step>(1);
        tokio::spawn(write_chunks(self.clone(), header.clone(), pending, tx.clone()));
        let api = self.clone();
        tokio::spawn(async move {
            let send = |event: Event| {
                let tx = tx.clone();
                async move { tx.send(Ok(pb::ImportInsuredPersonsResponse { event: Some(event) })).await.is_ok() }
            };
            while let Some(message) = incoming.next().await {
                let chunk = match message {
                    Ok(pb::ImportInsuredPersonsRequest {
                        payload: Some(pb::import_insured_persons_request::Payload::Chunk(chunk)),
                    }) => chunk,
                    Ok(_) => {
                        let _ = tx.send(Err(tonic::Status::invalid_argument("only one header, then chunks"))).await;
                        return;
                    }
                    Err(status) => {
                        tracing::warn!(code = ?status.code(), "import stream ended with an error");
                        return;
                    }
                };
                // A count check per chunk, before any row is looked at or applied.
                let mut v = Violations::new();
                if !kaigo_platform::validate::at_most(&mut v, "chunk.rows", &chunk.rows, MAX_CHUNK_ROWS) {
                    let _ = tx.send(Err(ApiError::invalid_argument(v).into())).await;
                    return;
                }
                let mut valid = Vec::with_capacity(chunk.rows.len());
                let mut rejected = 0;
                for row in &chunk.rows {
                    match api.import_row(&header.insurer_number, row) {
                        Ok(person) => valid.push(person),
                        Err(err) => {
                            rejected += 1;
                            if !send(row_error(row.line_number, &err)).await {
                                return;
                            }
                        }
                    }
                }
                // Within one chunk a person appears once; a repeated key is a bad row.
                valid.sort_by_key(|p| p.key);
                valid.dedup_by_key(|p| p.key);
                let received = chunk.rows.len() as i64;
                // The writer stopped (a failed chunk, already answered): stop reading.
                if chunks.send(Step::Chunk { valid, received, rejected }).await.is_err() {
                    return;
                }
            }
            // Only a stream read to its end is summarised; dropping `chunks` without this stops
            // the writer after the chunk it holds.
            let _ = chunks.send(Step::End).await;
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}

/// What the reading stage hands the writer.
enum Step {
    /// A validated chunk: its valid rows, and how many rows it had and how many were rejected.
    Chunk { valid: Vec<ImportPerson>, received: i64, rejected: i64 },
    /// The request stream ended normally: answer the summary.
    End,
}

/// The writing stage of an import: applies each validated chunk in its own transaction, in
/// order, answering progress after each and the summary at the end. With L2 filled by imports
/// ([`fill_l2`]), the persons each chunk created or changed are handed to a third stage that
/// writes them to L2 while this one applies the next chunk; the summary waits for it.
async fn write_chunks(
    api: Api,
    header: pb::ImportHeader,
    mut pending: mpsc::Receiver<Step>,
    tx: mpsc::Sender<Result<pb::ImportInsuredPersonsResponse, tonic::Status>>,
) {
    let send = |event: Event| {
        let tx = tx.clone();
        async move { tx.send(Ok(pb::ImportInsuredPersonsResponse { event: Some(event) })).await.is_ok() }
    };
    let started = prost_types::Timestamp { seconds: api.inner.clock.now().timestamp(), nanos: 0 };
    let mut totals = pb::ImportProgress::default();
    let l2 = api.inner.cache.l2().filter(|l2| l2.filled_by_imports() && !header.dry_run).cloned();
    // One chunk waits between the stages, as between reading and writing.
    let mut filling = l2.map(|l2| {
        let (fills, committed) = mpsc::channel::<Committed>(1);
        (fills, tokio::spawn(fill_l2(api.clone(), l2, committed)))
    });
    while let Some(step) = pending.recv().await {
        let (valid, received, rejected) = match step {
            Step::Chunk { valid, received, rejected } => (valid, received, rejected),
            Step::End => {
                // Every chunk's persons are in L2 (or given up on) before the summary: a check
                // after it finds them there.
                if let Some((fills, stage)) = filling.take() {
                    drop(fills);
                    let _ = stage.await;
                }
                let summary = pb::ImportSummary {
                    totals: Some(totals),
                    dry_run: header.dry_run,
                    start_time: Some(started),
                    end_time: Some(prost_types::Timestamp { seconds: api.inner.clock.now().timestamp(), nanos: 0 }),
                };
                let _ = send(Event::Summary(summary)).await;
                return;
            }
        };
        totals.rows_received += received;
        totals.rows_rejected += rejected;
        if !header.dry_run && !valid.is_empty() {
            let now = api.inner.clock.now();
            match store::import_chunk(&api.inner.db, &valid, &header.insurer_number, now).await {
                Ok((outcome, changed, created)) => {
                    totals.persons_created += outcome.created as i64;
                    totals.persons_changed += outcome.changed as i64;
                    totals.persons_unchanged += outcome.unchanged as i64;
                    let mut laps = store::bulk::stages::Laps::start();
                    let cache = &api.inner.cache;
                    // Before the chunk is answered, as a single write does before it answers:
                    // L2 deletes the changed persons and tells every replica to drop them (one
                    // round trip for the chunk; skipped while L2 rests, repeated by the outbox
                    // consumer for each changed person), then this replica's L1 drops them and
                    // a new person's negative entry (other replicas' negative entries expire
                    // within negative_ttl_ms). Redis first, as Cache::invalidate does: an L1
                    // miss in between would otherwise reload the old value from L2.
                    if let Some(l2) = cache.l2() {
                        l2.invalidate_many(&changed).await;
                    }
                    for key in changed.iter().chain(&created) {
                        cache.invalidate_local(key).await;
                    }
                    laps.lap("invalidate");
                    // The stage is gone only if it panicked: the chunk is applied all the same.
                    if let Some((fills, _)) = &filling
                        && (!created.is_empty() || !changed.is_empty())
                    {
                        let _ = fills.send(Committed { rows: valid, created, changed, now }).await;
                        laps.lap("hand_over");
                    }
                }
                Err(err) => {
                    let status: tonic::Status = ApiError::unavailable(err).into();
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            }
        }
        totals.rows_processed = totals.rows_received;
        if !send(Event::Progress(totals)).await {
            return;
        }
    }
}

/// A committed chunk, for [`fill_l2`].
struct Committed {
    /// The chunk's valid rows, sorted by key.
    rows: Vec<ImportPerson>,
    /// The persons it created.
    created: Vec<PersonKey>,
    /// The persons it changed.
    changed: Vec<PersonKey>,
    /// The time the chunk was stamped with.
    now: DateTime<Utc>,
}

/// The L2 stage of an import: for each committed chunk, in order, writes the complete values of
/// its created and changed persons to L2 in one round trip ([`crate::cache::L2::put_many`]):
/// what a check's miss would have put there, so the first check of an imported person is an L2
/// hit instead of a database read. Unchanged persons are not rewritten. Best effort: while L2
/// rests nothing is read, and a failed read or write leaves the chunk's persons to be loaded by
/// their first check, as without this stage.
///
/// A created person's value is built from their row: the chunk inserted exactly its person and
/// periods, at version 1, stamped `now` (L2's form keeps no record ids). A changed person's
/// timeline is read back (their version and kept records are the database's), and everyone's
/// access facts are read, in one transaction for the chunk ([`store::bulk::imported_reads`]).
///
/// Why the value written is never older than what a check may already have been told
/// (the invalidation scheme of [`crate::cache`]): the chunk committed, and its changed persons
/// were deleted from L2 and dropped from every L1, before this stage began, so it writes at
/// least the import's state. A single write of one of these persons committed after that and
/// before the write here would have its own delete overwritten by the older value; that
/// write's `eligibility.changed` event, naming a version newer than that value's, is consumed
/// after its commit and leaves a tombstone at that version, confirmed and retried until Redis
/// takes it (crate::events); and if the event came first, the write here is refused by its
/// tombstone ([`crate::cache::L2::put_many`] compares versions in Redis), as a check's miss that
/// read before the write is. A registry change of the person's access
/// facts in that window drops the person from the caches once, after its commit, with no
/// repeat: the import's value may then keep the older facts, exactly as the value of a miss read
/// just before that change would. The stage writes chunk after chunk, so a person imported twice
/// in one run ends with the later chunk's value.
///
/// A changed person's import also enqueued an `eligibility.changed` event naming the version the
/// import gave them; its consumer keeps the value written here (at that version, or later if a
/// write followed) and replaces only an older one, so a changed person's first check is an L2 hit
/// as a created person's (no event) is.
async fn fill_l2(api: Api, l2: crate::cache::L2, mut committed: mpsc::Receiver<Committed>) {
    while let Some(Committed { rows, created, changed, now }) = committed.recv().await {
        if l2.resting() {
            continue;
        }
        let mut laps = store::bulk::stages::Laps::start();
        let all: Vec<PersonKey> = created.iter().chain(&changed).copied().collect();
        let (mut timelines, mut facts) = match store::bulk::imported_reads(&api.inner.db, &changed, &all).await {
            Ok(read) => read,
            Err(err) => {
                // The persons are loaded by their first check instead; the error names no one.
                tracing::warn!(error = %err, "reading an imported chunk for L2 failed; left to the first checks");
                continue;
            }
        };
        let mut entries: Vec<(PersonKey, Cached)> = Vec::with_capacity(all.len());
        for key in &created {
            let Ok(at) = rows.binary_search_by_key(key, |row| row.key) else { continue };
            let row = &rows[at];
            let mut person = row.person.clone();
            (person.version, person.updated_at) = (1, now);
            let records = row.periods.iter().map(|(start, end, detail)| Record {
                id: 0,
                start: *start,
                end: *end,
                detail: detail.clone(),
            });
            let timeline = Timeline { person: store::core_of(&person), records: records.collect() };
            let access = facts.remove(key).unwrap_or_default();
            entries.push((*key, Cached { timeline, details: Some(store::details_of(&person)), access }));
        }
        for key in &changed {
            let Some((timeline, details)) = timelines.remove(key) else { continue };
            let access = facts.remove(key).unwrap_or_default();
            entries.push((*key, Cached { timeline, details: Some(details), access }));
        }
        laps.lap("l2_read");
        l2.put_many(&entries).await;
        laps.lap("l2_write");
    }
}

/// The row's 住宅改修 and 福祉用具購入 uses (docs/domain/eligibility.md#allowances): at most
/// [`super::allowances::MAX_IMPORT_USES`] of each kind, each claim reference once.
fn import_uses(v: &mut Violations, row: &pb::ImportRow) -> Vec<crate::domain::allowances::UseFacts> {
    use super::allowances::{MAX_IMPORT_USES, equipment_purchase, home_modification};
    let mut uses = Vec::new();
    if kaigo_platform::validate::at_most(v, "home_modifications", &row.home_modifications, MAX_IMPORT_USES) {
        for (i, h) in row.home_modifications.iter().enumerate() {
            uses.extend(home_modification(v, &format!("home_modifications[{i}]"), Some(h)));
        }
    }
    if kaigo_platform::validate::at_most(v, "equipment_purchases", &row.equipment_purchases, MAX_IMPORT_USES) {
        for (i, e) in row.equipment_purchases.iter().enumerate() {
            uses.extend(equipment_purchase(v, &format!("equipment_purchases[{i}]"), Some(e)));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, h) in row.home_modifications.iter().enumerate() {
        if !seen.insert((1, h.claim_reference.as_str())) {
            v.add(format!("home_modifications[{i}].claim_reference"), "is listed twice in the row");
        }
    }
    for (i, e) in row.equipment_purchases.iter().enumerate() {
        if !seen.insert((2, e.claim_reference.as_str())) {
            v.add(format!("equipment_purchases[{i}].claim_reference"), "is listed twice in the row");
        }
    }
    uses
}
