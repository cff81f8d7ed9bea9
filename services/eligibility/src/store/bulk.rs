//! Bulk loading for imports: whole chunks of persons in a handful of statements.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};

use super::{ACTIVE, PersonDetails, core_of, details_of, person, to_domain};
use crate::domain::allowances::UseFacts;
use crate::domain::{Period, Record, Timeline};
use crate::key::PersonKey;
use crate::store::write::{changed_event, kind_code};

mod changes;
mod pg;
pub mod stages;

/// One person of an import with all their current periods.
#[derive(Debug, Clone)]
pub struct ImportPerson {
    /// Whose.
    pub key: PersonKey,
    /// The person row (id and version ignored).
    pub person: person::Model,
    /// Every active period, as the extract states them.
    pub periods: Vec<Period>,
    /// 住宅改修 and 福祉用具購入 uses the extract states, matched by claim reference
    /// (docs/domain/eligibility.md#allowances).
    pub uses: Vec<UseFacts>,
}

/// What a chunk did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOutcome {
    /// New persons.
    pub created: u64,
    /// Persons whose data differed and were updated.
    pub changed: u64,
    /// Persons identical to what was stored.
    pub unchanged: u64,
}

fn placeholders(postgres: bool, rows: usize, cols: usize) -> String {
    let mut sql = String::with_capacity(rows * cols * 4);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            if postgres {
                sql.push('$');
                sql.push_str(&(r * cols + c + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Applies one chunk in one transaction: creates new persons, updates changed ones
/// (their differing periods are voided and the extract's inserted), skips identical ones.
/// Returns the outcome, the keys of changed persons (to invalidate everywhere) and of
/// created ones (only possibly cached as unknown: a negative entry, in L1, short-lived).
///
/// On PostgreSQL the chunk is staged with `COPY` and compared in SQL ([`pg`]); only persons
/// that comparison cannot prove identical are loaded and compared here.
pub async fn import_chunk(
    db: &DatabaseConnection,
    rows: &[ImportPerson],
    recorded_by: &str,
    now: DateTime<Utc>,
) -> Result<(ChunkOutcome, Vec<PersonKey>, Vec<PersonKey>), DbErr> {
    let mut laps = stages::Laps::start();
    if kaigo_platform::db::is_postgres(db) {
        let staged = pg::stage(rows)?;
        laps.lap("encode");
        return pg::import_chunk(db, rows, staged, recorded_by, now, laps).await;
    }
    // A writer from the start: on SQLite (`kaigo dev`) a deferred transaction fails with
    // "database is locked" when another connection commits between its read and its write.
    let txn = kaigo_platform::db::begin_write(db).await?;
    laps.lap("begin");
    let rows: Vec<&ImportPerson> = rows.iter().collect();
    let result = apply_rows(&txn, false, &rows, None, recorded_by, now, &mut laps).await?;
    txn.commit().await?;
    laps.lap("commit");
    Ok(result)
}

/// The stored persons of a chunk's rows, each with their active records.
type Stored = HashMap<PersonKey, (person::Model, Vec<Record>)>;

/// Compares `rows` with what is stored and applies the differences through `conn` (the chunk's
/// transaction): [`import_chunk`]'s work for the persons given, timed as the stages `load`,
/// `diff`, `update`, `void`, `insert` and `enqueue` ([`stages`]). `loaded`: the stored persons
/// of `rows` when the caller read them already (PostgreSQL's comparison returns them), else
/// they are read here.
async fn apply_rows(
    conn: &impl ConnectionTrait,
    postgres: bool,
    rows: &[&ImportPerson],
    loaded: Option<Stored>,
    recorded_by: &str,
    now: DateTime<Utc>,
    laps: &mut stages::Laps,
) -> Result<(ChunkOutcome, Vec<PersonKey>, Vec<PersonKey>), DbErr> {
    let mut outcome = ChunkOutcome::default();
    let mut created = Vec::new();
    if rows.is_empty() {
        return Ok((outcome, Vec::new(), created));
    }
    let existing = match loaded {
        Some(stored) => stored,
        None => load_existing(conn, rows).await?,
    };
    let stored_ids: Vec<i64> = existing.values().map(|(p, _)| p.id).collect();
    let stored_uses = super::allowances::active_of(conn, &stored_ids).await?;
    laps.lap("load");
    let mut new_people: Vec<&ImportPerson> = Vec::new();
    let mut changes = Vec::new();
    for &row in rows {
        match existing.get(&row.key) {
            None => new_people.push(row),
            Some((stored, records)) => {
                let uses = stored_uses.get(&stored.id).map_or(&[][..], Vec::as_slice);
                match changes::change_of(row, stored, records, uses) {
                    Some(change) => changes.push(change),
                    None => outcome.unchanged += 1,
                }
            }
        }
    }
    outcome.changed = changes.len() as u64;
    laps.lap("diff");
    let versions = changes::update_persons(conn, postgres, &changes, now).await?;
    for change in changes.iter().filter(|c| !c.uses.is_empty()) {
        super::allowances::apply_import(conn, change.id, &change.uses, recorded_by, now).await?;
    }
    laps.lap("update");
    let voided: Vec<i64> = changes.iter().flat_map(|c| c.voided.iter().copied()).collect();
    changes::void_records(conn, postgres, &voided).await?;
    laps.lap("void");
    let mut record_rows: Vec<(i64, &Period)> =
        changes.iter().flat_map(|c| c.added.iter().map(|period| (c.id, *period))).collect();
    if !new_people.is_empty() {
        let ids = insert_persons(conn, postgres, &new_people, now).await?;
        for (row, id) in new_people.iter().zip(ids) {
            outcome.created += 1;
            created.push(row.key);
            record_rows.extend(row.periods.iter().map(|p| (id, p)));
            let uses: Vec<_> = row.uses.iter().map(|u| (None, u)).collect();
            super::allowances::apply_import(conn, id, &uses, recorded_by, now).await?;
        }
    }
    insert_records(conn, postgres, &record_rows, recorded_by, now).await?;
    laps.lap("insert");
    let events = changes.iter().zip(&versions).map(|(c, version)| changed_event(&c.key, *version)).collect();
    kaigo_platform::events::enqueue_many(conn, events).await?;
    laps.lap("enqueue");
    Ok((outcome, changes.into_iter().map(|c| c.key).collect(), created))
}

/// What an import's L2 stage reads after a chunk committed: the timelines of `changed` (their
/// versions and records are the database's to say) and the access facts of `all` (the chunk's
/// created and changed persons). On PostgreSQL in one read-only transaction with JIT
/// compilation off: these statements' cost estimates grow with the chunk, and compiling them
/// took 45 ms of a 68 ms statement that runs in 1 ms without it.
pub async fn imported_reads(
    db: &DatabaseConnection,
    changed: &[PersonKey],
    all: &[PersonKey],
) -> Result<ImportedReads, DbErr> {
    use sea_orm::TransactionTrait;
    if !kaigo_platform::db::is_postgres(db) {
        return Ok((super::timelines(db, changed).await?, super::access_facts_many(db, all).await?));
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SET LOCAL jit = off").await?;
    let timelines = imported_timelines(&txn, changed).await?;
    let facts = imported_facts(&txn, all).await?;
    txn.commit().await?;
    Ok((timelines, facts))
}

/// [`imported_reads`]' answer: timelines with personal details, and access facts, by person.
pub type ImportedReads =
    (HashMap<PersonKey, (Timeline, PersonDetails)>, HashMap<PersonKey, kaigo_platform::access::Facts>);

/// The timelines of `keys` (persons of one insurer) with their personal details, as a cache
/// miss reads them, after an import committed them: on PostgreSQL in one statement whatever
/// the chunk's size (each person one index probe of `persons` and one of `records`, as in
/// [`pg`]'s comparison), elsewhere as [`super::timelines`] reads them.
async fn imported_timelines(
    conn: &impl ConnectionTrait,
    keys: &[PersonKey],
) -> Result<HashMap<PersonKey, (Timeline, PersonDetails)>, DbErr> {
    let Some(first) = keys.first() else { return Ok(HashMap::new()) };
    if !kaigo_platform::db::is_postgres(conn) {
        return super::timelines(conn, keys).await;
    }
    let numbers: Vec<&str> = keys.iter().map(PersonKey::insured).collect();
    let stored = persons_with_records(conn, first.insurer(), &numbers).await?;
    let by_number: HashMap<&str, PersonKey> = keys.iter().map(|k| (k.insured(), *k)).collect();
    let mut out = HashMap::with_capacity(stored.len());
    for (person, records) in stored {
        let Some(&key) = by_number.get(person.insured_number.as_str()) else { continue };
        out.insert(key, (Timeline { person: core_of(&person), records }, details_of(&person)));
    }
    Ok(out)
}

/// The stored persons of `insurer` among `numbers`, each with their active records, in one
/// statement whatever their number ([`TIMELINES_BY_NUMBERS`]: each person one index probe of
/// `persons` and one of `records`); PostgreSQL.
async fn persons_with_records(
    conn: &impl ConnectionTrait,
    insurer: &str,
    numbers: &[&str],
) -> Result<Vec<(person::Model, Vec<Record>)>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            TIMELINES_BY_NUMBERS,
            [insurer.to_owned().into(), numbers.join(",").into(), ACTIVE.into()],
        ))
        .await?;
    persons_and_records_of(&rows)
}

/// Rows of persons (`persons`' columns) each with one active record (`r_id`, `r_start`,
/// `r_end`, `r_detail`; null for a person without any), each person's rows together, as
/// [`TIMELINES_BY_NUMBERS`] and [`pg`]'s comparison give them.
fn persons_and_records_of(rows: &[sea_orm::QueryResult]) -> Result<Vec<(person::Model, Vec<Record>)>, DbErr> {
    use sea_orm::FromQueryResult;
    let mut out: Vec<(person::Model, Vec<Record>)> = Vec::new();
    // Rows come person by person; each person's first row opens their entry.
    let mut current: Option<i64> = None;
    for row in rows {
        let person_id: i64 = row.try_get("", "id")?;
        if current != Some(person_id) {
            out.push((person::Model::from_query_result(row, "")?, Vec::new()));
            current = Some(person_id);
        }
        let Some(id) = row.try_get::<Option<i64>>("", "r_id")? else { continue };
        let detail: String = row.try_get("", "r_detail")?;
        let record = super::record_of(id, row.try_get("", "r_start")?, row.try_get("", "r_end")?, &detail)?;
        if let Some((_, records)) = out.last_mut() {
            records.push(record);
        }
    }
    Ok(out)
}

/// [`persons_with_records`]' statement: the persons of insurer `$1` among the comma-separated
/// insured numbers `$2` with their records in state `$3`, each person's rows together. The
/// `LIMIT` and `OFFSET` keep each lookup an index probe (see [`pg`]'s `DIFFERING`).
const TIMELINES_BY_NUMBERS: &str = "SELECT p.*, r.id AS r_id, r.start_date AS r_start, r.end_date AS r_end, \
     r.detail AS r_detail FROM unnest(string_to_array($2, ',')) AS n(insured_number) \
     CROSS JOIN LATERAL (SELECT * FROM persons p \
       WHERE p.insurer_number = $1 AND p.insured_number = n.insured_number LIMIT 1) p \
     LEFT JOIN LATERAL (SELECT r.id, r.start_date, r.end_date, r.detail FROM records r \
       WHERE r.person_id = p.id AND r.state = $3 OFFSET 0) r ON true \
     ORDER BY p.id, r.id";

/// The access facts of `keys` (persons of one insurer; a person without any has none) after an
/// import. On PostgreSQL one statement finds which of them have any facts at all (each person
/// three index probes), and only those are read ([`super::access_facts_many`]): most imported
/// persons have none, and one statement naming a whole chunk's persons in a list, as
/// kaigo_platform::access::load_many builds it, took 80 ms (1,024 persons) to 250 ms (4,096) to
/// plan and run, and failed beyond the planner's stack at 8,192. Elsewhere all are read.
async fn imported_facts(
    conn: &impl ConnectionTrait,
    keys: &[PersonKey],
) -> Result<HashMap<PersonKey, kaigo_platform::access::Facts>, DbErr> {
    let Some(first) = keys.first() else { return Ok(HashMap::new()) };
    if !kaigo_platform::db::is_postgres(conn) {
        return super::access_facts_many(conn, keys).await;
    }
    let numbers: Vec<&str> = keys.iter().map(PersonKey::insured).collect();
    let holders = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            WITH_FACTS,
            [first.insurer().to_owned().into(), numbers.join(",").into()],
        ))
        .await?;
    let holders: std::collections::HashSet<String> =
        holders.iter().map(|row| row.try_get_by_index::<String>(0)).collect::<Result<_, _>>()?;
    let with_facts: Vec<PersonKey> = keys.iter().filter(|k| holders.contains(k.insured())).copied().collect();
    let mut out = super::access_facts_many(conn, &with_facts).await?;
    for key in keys {
        out.entry(*key).or_default();
    }
    Ok(out)
}

/// Which of the comma-separated insured numbers `$2` of insurer `$1` have any row in the copy
/// of the access facts (a registration, a consent or an identity link, revoked ones too: their
/// versions count in the facts' stamp, which L2 compares): one index probe per table each.
const WITH_FACTS: &str = "SELECT n.insured FROM unnest(string_to_array($2, ',')) AS n(insured) \
     WHERE EXISTS (SELECT 1 FROM access_registrations a WHERE a.insurer_number = $1 AND a.insured_number = n.insured) \
     OR EXISTS (SELECT 1 FROM access_consents c WHERE c.insurer_number = $1 AND c.insured_number = n.insured) \
     OR EXISTS (SELECT 1 FROM access_identity_links l WHERE l.insurer_number = $1 AND l.insured_number = n.insured)";

async fn load_existing(
    txn: &impl ConnectionTrait,
    rows: &[&ImportPerson],
) -> Result<HashMap<PersonKey, (person::Model, Vec<Record>)>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut out = HashMap::new();
    if rows.is_empty() {
        return Ok(out);
    }
    // One insurer per import: select by insured numbers within it.
    let insurer = rows[0].key.insurer().to_owned();
    let numbers: Vec<&str> = rows.iter().map(|r| r.key.insured()).collect();
    // One lookup per person, not a scan of the chunk per person (chunks hold thousands).
    let keys: HashMap<&str, PersonKey> = rows.iter().map(|r| (r.key.insured(), r.key)).collect();
    if kaigo_platform::db::is_postgres(txn) {
        // One statement, one index probe a person: `insured_number IN ($2 … $2001)` becomes, in
        // the generic plan a reused prepared statement gets, a filter comparing every row of the
        // insurer with every parameter (seconds per chunk on a freshly loaded, unanalysed
        // table), and a join with the chunk's numbers was planned as a hash of the insurer's
        // every person (43 ms a chunk at 100,000 persons, against 11 ms probing).
        for (p, records) in persons_with_records(txn, &insurer, &numbers).await? {
            if let Some(&key) = keys.get(p.insured_number.as_str()) {
                out.insert(key, (p, records));
            }
        }
        return Ok(out);
    }
    let people = person::Entity::find()
        .filter(person::Column::InsurerNumber.eq(insurer))
        .filter(person::Column::InsuredNumber.is_in(numbers))
        .all(txn)
        .await?;
    if people.is_empty() {
        return Ok(out);
    }
    let ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let records = super::record::Entity::find()
        .filter(super::record::Column::PersonId.is_in(ids))
        .filter(super::record::Column::State.eq(ACTIVE))
        .all(txn)
        .await?;
    let mut by_person: HashMap<i64, Vec<Record>> = HashMap::new();
    for r in &records {
        by_person.entry(r.person_id).or_default().push(to_domain(r)?);
    }
    for p in people {
        if let Some(&key) = keys.get(p.insured_number.as_str()) {
            let records = by_person.remove(&p.id).unwrap_or_default();
            out.insert(key, (p, records));
        }
    }
    Ok(out)
}

async fn insert_persons(
    txn: &impl ConnectionTrait,
    postgres: bool,
    people: &[&ImportPerson],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    const COLS: usize = 12;
    let backend = txn.get_database_backend();
    if postgres {
        return insert_persons_pg(txn, people, now).await;
    }
    let mut ids = Vec::with_capacity(people.len());
    // PostgreSQL takes at most 65535 parameters a statement.
    for part in people.chunks(5_000) {
        let sql = format!(
            "INSERT INTO persons (insurer_number, insured_number, name_kanji, name_kana, birth_date, sex, category, acquired_date, lost_date, card_issued_date, version, updated_at) VALUES {} RETURNING id",
            placeholders(postgres, part.len(), COLS)
        );
        let mut values: Vec<Value> = Vec::with_capacity(part.len() * COLS);
        for row in part {
            values.extend([row.key.insurer().to_owned().into(), row.key.insured().to_owned().into()]);
            values.extend(changes::person_values(&row.person));
            values.extend([1i64.into(), now.into()]);
        }
        let returned = txn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        for row in returned {
            ids.push(row.try_get::<i64>("", "id")?);
        }
    }
    Ok(ids)
}

async fn insert_records(
    txn: &impl ConnectionTrait,
    postgres: bool,
    rows: &[(i64, &Period)],
    recorded_by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    const COLS: usize = 11;
    let backend = txn.get_database_backend();
    if postgres {
        return insert_records_pg(txn, rows, recorded_by, now).await;
    }
    for part in rows.chunks(5_000) {
        let sql = format!(
            "INSERT INTO records (person_id, kind, state, start_date, end_date, detail, recorded_at, recorded_by_role, recorded_by_subject, recorded_by_org, change_reason) VALUES {}",
            placeholders(postgres, part.len(), COLS)
        );
        let mut values: Vec<Value> = Vec::with_capacity(part.len() * COLS);
        for (person_id, (start, end, detail)) in part {
            let json = serde_json::to_string(detail).map_err(|e| DbErr::Custom(e.to_string()))?;
            values.extend([
                (*person_id).into(),
                kind_code(detail).into(),
                ACTIVE.into(),
                (*start).into(),
                (*end).into(),
                json.into(),
                now.into(),
                "insurer".into(),
                "import".into(),
                recorded_by.to_owned().into(),
                "bulk import".into(),
            ]);
        }
        if !part.is_empty() {
            txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        }
    }
    Ok(())
}

/// A new person as one element of the JSON array [`INSERT_PERSONS_PG`] reads.
#[derive(serde::Serialize)]
struct NewPersonRow<'a> {
    insured: &'a str,
    #[serde(flatten)]
    columns: changes::PersonColumns<'a>,
}

/// A chunk's new persons in one statement with three parameters (the rows as one JSON array,
/// the insurer, the time) instead of twelve a person: binding 60,000 parameters and planning a
/// 5,000-row VALUES list was most of a chunk's time in PostgreSQL and in the driver
/// (loadtest/README.md, "Import profile").
const INSERT_PERSONS_PG: &str = "INSERT INTO persons (insurer_number, insured_number, name_kanji, name_kana, \
     birth_date, sex, category, acquired_date, lost_date, card_issued_date, version, updated_at) \
     SELECT $2, x.insured, x.kanji, x.kana, x.birth, x.sex, x.category, x.acquired, x.lost, x.issued, 1, $3 \
     FROM json_to_recordset($1::json) AS x(insured text, kanji text, kana text, birth date, sex smallint, \
     category smallint, acquired date, lost date, issued date) \
     RETURNING id, insured_number";

async fn insert_persons_pg(
    txn: &impl ConnectionTrait,
    people: &[&ImportPerson],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    let Some(first) = people.first() else { return Ok(Vec::new()) };
    let rows: Vec<NewPersonRow<'_>> = people
        .iter()
        .map(|row| NewPersonRow { insured: row.key.insured(), columns: changes::PersonColumns::of(&row.person) })
        .collect();
    let json = serde_json::to_string(&rows).map_err(|e| DbErr::Custom(e.to_string()))?;
    let returned = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            INSERT_PERSONS_PG,
            [json.into(), first.key.insurer().to_owned().into(), now.into()],
        ))
        .await?;
    // Matched by insured number (one insurer, each person once in a chunk), not by the order
    // RETURNING happens to give.
    let mut by_number: HashMap<String, i64> = HashMap::with_capacity(returned.len());
    for row in returned {
        by_number.insert(row.try_get::<String>("", "insured_number")?, row.try_get::<i64>("", "id")?);
    }
    people
        .iter()
        .map(|row| {
            by_number
                .get(row.key.insured())
                .copied()
                .ok_or_else(|| DbErr::Custom("an imported person was not returned by its insert".to_owned()))
        })
        .collect()
}

/// A new record as one element of the JSON array [`INSERT_RECORDS_PG`] reads.
#[derive(serde::Serialize)]
struct NewRecordRow {
    person: i64,
    kind: i16,
    start_date: chrono::NaiveDate,
    end_date: Option<chrono::NaiveDate>,
    detail: String,
}

/// A chunk's new records in one statement with five parameters (see [`INSERT_PERSONS_PG`]).
const INSERT_RECORDS_PG: &str = "INSERT INTO records (person_id, kind, state, start_date, end_date, detail, \
     recorded_at, recorded_by_role, recorded_by_subject, recorded_by_org, change_reason) \
     SELECT x.person, x.kind, $2, x.start_date, x.end_date, x.detail, $3, 'insurer', 'import', $4, 'bulk import' \
     FROM json_to_recordset($1::json) AS x(person bigint, kind smallint, start_date date, end_date date, detail text)";

async fn insert_records_pg(
    txn: &impl ConnectionTrait,
    rows: &[(i64, &Period)],
    recorded_by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut out = Vec::with_capacity(rows.len());
    for (person, (start, end, detail)) in rows {
        let json = serde_json::to_string(detail).map_err(|e| DbErr::Custom(e.to_string()))?;
        out.push(NewRecordRow {
            person: *person,
            kind: kind_code(detail),
            start_date: *start,
            end_date: *end,
            detail: json,
        });
    }
    let json = serde_json::to_string(&out).map_err(|e| DbErr::Custom(e.to_string()))?;
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        INSERT_RECORDS_PG,
        [json.into(), ACTIVE.into(), now.into(), recorded_by.to_owned().into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Re-importing right after a bulk load: the lookups of a chunk must not depend on the
    //! planner's statistics, which a freshly loaded table does not have yet.

    use chrono::{NaiveDate, Utc};
    use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
    use kaigo_platform::testkit::TestDatabase;
    use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, TransactionTrait};
    use sea_orm_migration::MigratorTrait;

    use super::{ChunkOutcome, ImportPerson};
    use crate::domain::Detail;
    use crate::key::PersonKey;
    use crate::store::{import_chunk, person};

    const PERSONS: usize = 20_000;
    const CHUNK: usize = 2_000;

    fn person(insurer: &InsurerNumber, n: usize) -> ImportPerson {
        let insured = InsuredNumber::parse(&format!("{n:010}")).unwrap();
        let start = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
        ImportPerson {
            key: PersonKey::new(insurer, &insured),
            person: person::Model {
                id: 0,
                insurer_number: insurer.as_str().to_owned(),
                insured_number: insured.as_str().to_owned(),
                name_kanji: "試験 太郎".to_owned(),
                name_kana: "シケン タロウ".to_owned(),
                birth_date: NaiveDate::from_ymd_opt(1940, 1, 1),
                sex: 1,
                category: 1,
                acquired_date: Some(start),
                lost_date: None,
                card_issued_date: None,
                version: 0,
                updated_at: Utc::now(),
            },
            // Differs by person, so a record given to the wrong person shows.
            periods: vec![(start, None, Detail::Copayment { tenths: 1 + (n % 3) as u8 })],
            uses: Vec::new(),
        }
    }

    /// Rows of `table` this connection read (by index or by scanning) and has not yet reported
    /// to the cumulative statistics; constant within a transaction but for its own reads.
    async fn rows_read(txn: &DatabaseTransaction, table: &str) -> i64 {
        txn.query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT (coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0))::bigint \
             FROM pg_stat_xact_user_tables WHERE relname = $1",
            [table.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
    }

    #[tokio::test]
    async fn a_reimport_after_a_bulk_load_finds_each_person_by_index_without_statistics() {
        let database = TestDatabase::create().await;
        let db = kaigo_platform::db::connect(&database.config(), "eligibility").await.unwrap();
        crate::Migrator::up(&db, None).await.unwrap();
        // Freshly loaded and never analysed: what an import meets right after the first load.
        for table in ["persons", "records"] {
            db.execute_unprepared(&format!("ALTER TABLE {table} SET (autovacuum_enabled = false)")).await.unwrap();
        }
        let insurer = InsurerNumber::parse("435073").unwrap();
        let people: Vec<ImportPerson> = (1..=PERSONS).map(|n| person(&insurer, n)).collect();
        for chunk in people.chunks(CHUNK) {
            let (outcome, _, _) = import_chunk(&db, chunk, "435073", Utc::now()).await.unwrap();
            assert_eq!(outcome.created, chunk.len() as u64);
        }
        let analysed = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('persons', 'records') \
                 AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(analysed, 0, "the tables must be without statistics for this test to mean anything");

        // The lookups of one chunk in the middle of the table, planned as a prepared statement
        // reused by the pool is after five runs: without the parameters' values.
        let chunk = &people[PERSONS / 2..PERSONS / 2 + CHUNK];
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan").await.unwrap();
        // The counters include earlier transactions of this connection not yet reported.
        let (persons_before, records_before) = (rows_read(&txn, "persons").await, rows_read(&txn, "records").await);
        let existing = super::load_existing(&txn, &chunk.iter().collect::<Vec<_>>()).await.unwrap();
        assert_eq!(existing.len(), CHUNK);
        assert!(existing.values().all(|(_, records)| records.len() == 1));
        // One index probe per person: the rest of the insurer's persons are never read.
        assert_eq!(rows_read(&txn, "persons").await - persons_before, CHUNK as i64);
        assert_eq!(rows_read(&txn, "records").await - records_before, CHUNK as i64);
        txn.rollback().await.unwrap();

        // And the re-import itself: nothing changes.
        for chunk in people.chunks(CHUNK) {
            let (outcome, changed, created) = import_chunk(&db, chunk, "435073", Utc::now()).await.unwrap();
            assert_eq!(outcome, ChunkOutcome { created: 0, changed: 0, unchanged: chunk.len() as u64 });
            assert!(changed.is_empty() && created.is_empty());
        }
        // Each person's record went to that person (the PostgreSQL insert matches the returned
        // ids by insured number), and the re-import wrote no versions or records.
        let count = |sql: &'static str| {
            let db = &db;
            async move {
                db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get_by_index::<i64>(0)
                    .unwrap()
            }
        };
        assert_eq!(
            count(
                "SELECT count(*) FROM records r JOIN persons p ON p.id = r.person_id \
                 WHERE r.detail::jsonb->'Copayment'->>'tenths' = (1 + p.insured_number::bigint % 3)::text"
            )
            .await,
            PERSONS as i64
        );
        assert_eq!(count("SELECT count(*) FROM records").await, PERSONS as i64);
        assert_eq!(count("SELECT count(*) FROM persons WHERE version <> 1").await, 0);

        // One changed person in a chunk: only that one gets a new version, a voided and a new
        // record.
        let mut chunk: Vec<ImportPerson> = people[..CHUNK].to_vec();
        chunk[7].periods[0].2 = Detail::Copayment { tenths: 3 - (8 % 3) as u8 };
        let (outcome, changed, created) = import_chunk(&db, &chunk, "435073", Utc::now()).await.unwrap();
        assert_eq!(outcome, ChunkOutcome { created: 0, changed: 1, unchanged: CHUNK as u64 - 1 });
        assert_eq!((changed, created.len()), (vec![chunk[7].key], 0));
        assert_eq!(count("SELECT count(*) FROM persons WHERE version <> 1").await, 1);
        assert_eq!(count("SELECT count(*) FROM records").await, PERSONS as i64 + 1);
        assert_eq!(count("SELECT count(*) FROM outbox").await, 1);

        // A detail stored as other JSON text is the same detail: PostgreSQL's comparison of the
        // text names the person, the server's finds it identical. And a chunk with a new person
        // among stored ones creates that one only.
        db.execute_unprepared(
            "UPDATE records SET detail = ' ' || detail \
             WHERE person_id = (SELECT id FROM persons WHERE insured_number = '0000000003')",
        )
        .await
        .unwrap();
        chunk.push(person(&insurer, PERSONS + 1));
        let (outcome, changed, created) = import_chunk(&db, &chunk, "435073", Utc::now()).await.unwrap();
        assert_eq!(outcome, ChunkOutcome { created: 1, changed: 0, unchanged: CHUNK as u64 });
        assert_eq!((changed.len(), created), (0, vec![chunk[CHUNK].key]));
        assert_eq!(count("SELECT count(*) FROM persons WHERE version <> 1").await, 1);
        assert_eq!(count("SELECT count(*) FROM records").await, PERSONS as i64 + 2);
        assert_eq!(count("SELECT count(*) FROM outbox").await, 1);

        // Every person of a chunk changed at once (the August re-determination of the ratio),
        // a tenth of them in their person row too, applied set-based: each changed person one
        // version up, one record voided and one added, one event naming that version.
        let mut august: Vec<ImportPerson> = people[CHUNK..2 * CHUNK].to_vec();
        for (i, row) in august.iter_mut().enumerate() {
            let Detail::Copayment { tenths } = row.periods[0].2 else { unreachable!() };
            row.periods[0].2 = Detail::Copayment { tenths: 1 + tenths % 3 };
            if i % 10 == 0 {
                row.person.name_kana = "シケン ハナコ".to_owned();
            }
        }
        let (outcome, changed, _) = import_chunk(&db, &august, "435073", Utc::now()).await.unwrap();
        assert_eq!(outcome, ChunkOutcome { created: 0, changed: CHUNK as u64, unchanged: 0 });
        assert_eq!(changed.len(), CHUNK);
        assert_eq!(count("SELECT count(*) FROM persons WHERE version = 2").await, CHUNK as i64 + 1);
        assert_eq!(count("SELECT count(*) FROM persons WHERE name_kana = 'シケン ハナコ'").await, CHUNK as i64 / 10);
        assert_eq!(count("SELECT count(*) FROM records WHERE state <> 1").await, CHUNK as i64 + 1);
        assert_eq!(count("SELECT count(*) FROM records").await, PERSONS as i64 + 2 + CHUNK as i64);
        // Each changed person's active record is the new ratio, and only one is active.
        assert_eq!(
            count(
                "SELECT count(*) FROM records r JOIN persons p ON p.id = r.person_id WHERE r.state = 1 \
                 AND p.version = 2 AND p.insured_number::bigint > 2000 \
                 AND r.detail::jsonb->'Copayment'->>'tenths' = (1 + (1 + p.insured_number::bigint % 3) % 3)::text"
            )
            .await,
            CHUNK as i64
        );
        assert_eq!(count("SELECT count(*) FROM records WHERE state = 1").await, PERSONS as i64 + 1);
        assert_eq!(count("SELECT count(*) FROM outbox").await, 1 + CHUNK as i64);
        // The events name each person's new version: the payload ends in the separator and "2".
        assert_eq!(
            count("SELECT count(*) FROM outbox WHERE right(encode(payload, 'escape'), 2) = ':2'").await,
            CHUNK as i64 + 1
        );
        db.close().await.unwrap();
    }
}
