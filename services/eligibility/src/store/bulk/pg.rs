//! The PostgreSQL import of one chunk: the chunk `COPY`ed (binary) into two temporary staging
//! tables, new persons and their records created by one statement reading them, the stored
//! persons compared with the staged ones in SQL, which returns the stored rows of the persons it
//! cannot prove identical, and those compared in the server ([`super::apply_rows`]), all in one
//! transaction on one connection (loadtest/README.md, "Import profile").
//!
//! sea-orm cannot send `COPY … FROM STDIN` in its transaction, so the transaction is begun on a
//! connection of the pool (as the audit trail's batches are) and the statements sea-orm builds
//! for the rare paths (updates, allowance uses, outbox events) run through [`OnConnection`] on
//! that same connection.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sqlx::{self, Connection, PgConnection, Postgres};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;

use super::stages::Laps;
use super::{ChunkOutcome, ImportPerson};
use crate::key::PersonKey;
use crate::store::ACTIVE;
use crate::store::write::kind_code;

fn to_db(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(err.into()))
}

/// The staging tables, dropped at the end of the chunk's transaction. `periods` is how many
/// records the person's row states; `has_uses` marks rows carrying allowance uses, which only
/// the server compares. JIT compilation is off for the chunk's statements: their cost
/// estimates are of millions of rows (the planner cannot know the staging tables' contents),
/// and [`DIFFERING`] compiled for 476 ms a chunk to run for 30 ms (`EXPLAIN ANALYZE`, a chunk
/// of 5,000 against 100,000 stored persons).
const STAGING: &str = "SET LOCAL jit = off; \
     CREATE TEMP TABLE import_persons (insured text NOT NULL, kanji text NOT NULL, \
     kana text NOT NULL, birth date, sex smallint NOT NULL, category smallint NOT NULL, acquired date, lost date, \
     issued date, has_uses boolean NOT NULL) ON COMMIT DROP; \
     CREATE TEMP TABLE import_records (insured text NOT NULL, kind smallint NOT NULL, start_date date NOT NULL, \
     end_date date, detail text NOT NULL) ON COMMIT DROP";

const COPY_PERSONS: &str = "COPY import_persons (insured, kanji, kana, birth, sex, category, acquired, lost, issued, \
     has_uses) FROM STDIN (FORMAT binary)";
const COPY_RECORDS: &str =
    "COPY import_records (insured, kind, start_date, end_date, detail) FROM STDIN (FORMAT binary)";

/// The staged persons not stored yet, and their records, in one statement (the records' foreign
/// key is checked at its end, when the persons exist). A person another import stored meanwhile
/// is skipped here and compared by [`DIFFERING`], which runs after it.
const CREATE_NEW: &str = "WITH created AS ( \
       INSERT INTO persons (insurer_number, insured_number, name_kanji, name_kana, birth_date, sex, category, \
         acquired_date, lost_date, card_issued_date, version, updated_at) \
       SELECT $1, s.insured, s.kanji, s.kana, s.birth, s.sex, s.category, s.acquired, s.lost, s.issued, 1, $2 \
       FROM import_persons s \
       ON CONFLICT (insurer_number, insured_number) DO NOTHING \
       RETURNING id, insured_number), \
     new_records AS ( \
       INSERT INTO records (person_id, kind, state, start_date, end_date, detail, recorded_at, recorded_by_role, \
         recorded_by_subject, recorded_by_org, change_reason) \
       SELECT c.id, x.kind, $3, x.start_date, x.end_date, x.detail, $2, 'insurer', 'import', $4, 'bulk import' \
       FROM import_records x JOIN created c ON c.insured_number = x.insured) \
     SELECT id, insured_number FROM created";

/// The stored persons the staged ones may change, each with their active records: those whose
/// stored row differs, or whose active records are not exactly the staged ones (as multisets
/// of start, end and detail text), or whose row carries allowance uses. The rest are identical
/// to what is stored: equal text is an equal detail. A person this returns may still be
/// identical (a detail stored with other JSON text): the server decides, on the rows returned
/// here, which it would otherwise read again (the `load` stage: 2.4 s of an 18 s import that
/// changed 100,000 persons, loadtest/README.md#write-parts). The columns are
/// `persons`' and `r_id`, `r_start`, `r_end`, `r_detail` (null for a person without any active
/// record), each person's rows together, as `super::persons_and_records_of` reads them.
/// Each staged person is one index probe of `persons` and one of `records` (the `LIMIT` and
/// `OFFSET` keep the planner from joining with the insurer's whole table instead, which it
/// preferred: 430 ms a chunk of 5,000 at 100,000 stored persons, against about 60 ms).
const DIFFERING: &str = "WITH matched AS MATERIALIZED ( \
       SELECT s.insured, p.*, (NOT s.has_uses AND p.name_kanji = s.kanji AND p.name_kana = s.kana \
         AND p.birth_date IS NOT DISTINCT FROM s.birth AND p.sex = s.sex AND p.category = s.category \
         AND p.acquired_date IS NOT DISTINCT FROM s.acquired AND p.lost_date IS NOT DISTINCT FROM s.lost \
         AND p.card_issued_date IS NOT DISTINCT FROM s.issued) AS same \
       FROM import_persons s \
       CROSS JOIN LATERAL (SELECT * FROM persons p \
         WHERE p.insurer_number = $1 AND p.insured_number = s.insured LIMIT 1) p), \
     stored AS MATERIALIZED ( \
       SELECT m.insured, r.id, r.start_date, r.end_date, r.detail FROM matched m \
       CROSS JOIN LATERAL (SELECT r.id, r.start_date, r.end_date, r.detail FROM records r \
         WHERE r.person_id = m.id AND r.state = $2 OFFSET 0) r), \
     differing AS ( \
       SELECT insured FROM matched WHERE NOT same \
       UNION \
       SELECT insured FROM ( \
         (SELECT insured, start_date, end_date, detail FROM stored \
          EXCEPT ALL SELECT insured, start_date, end_date, detail FROM import_records) \
         UNION ALL \
         (SELECT insured, start_date, end_date, detail FROM import_records \
          EXCEPT ALL SELECT insured, start_date, end_date, detail FROM stored)) d) \
     SELECT m.*, r.id AS r_id, r.start_date AS r_start, r.end_date AS r_end, r.detail AS r_detail \
     FROM differing d JOIN matched m ON m.insured = d.insured \
     LEFT JOIN stored r ON r.insured = d.insured \
     ORDER BY m.id, r.id";

/// The chunk's staging data in `COPY`'s binary format, encoded before the transaction begins.
pub(super) struct Staged {
    persons: Vec<u8>,
    records: Vec<u8>,
}

/// Encodes `rows` for [`COPY_PERSONS`] and [`COPY_RECORDS`].
pub(super) fn stage(rows: &[ImportPerson]) -> Result<Staged, DbErr> {
    let mut persons = CopyBinary::new(rows.len() * 120);
    let mut records = CopyBinary::new(rows.len() * 200);
    let mut detail = Vec::with_capacity(256);
    for row in rows {
        let p = &row.person;
        persons.tuple(10);
        persons.text(row.key.insured());
        persons.text(&p.name_kanji);
        persons.text(&p.name_kana);
        persons.date(p.birth_date);
        persons.int2(p.sex);
        persons.int2(p.category);
        persons.date(p.acquired_date);
        persons.date(p.lost_date);
        persons.date(p.card_issued_date);
        persons.boolean(!row.uses.is_empty());
        for (start, end, d) in &row.periods {
            detail.clear();
            serde_json::to_writer(&mut detail, d).map_err(|e| DbErr::Custom(e.to_string()))?;
            records.tuple(5);
            records.text(row.key.insured());
            records.int2(kind_code(d));
            records.date(Some(*start));
            records.date(*end);
            records.bytes(&detail);
        }
    }
    Ok(Staged { persons: persons.finish(), records: records.finish() })
}

/// Applies one chunk (see the module documentation). `staged` is [`stage`] of `rows`.
pub(super) async fn import_chunk(
    db: &DatabaseConnection,
    rows: &[ImportPerson],
    staged: Staged,
    recorded_by: &str,
    now: DateTime<Utc>,
    mut laps: Laps,
) -> Result<(ChunkOutcome, Vec<PersonKey>, Vec<PersonKey>), DbErr> {
    let Some(first) = rows.first() else { return Ok((ChunkOutcome::default(), Vec::new(), Vec::new())) };
    let insurer = first.key.insurer().to_owned();
    let mut conn = db.get_postgres_connection_pool().acquire().await.map_err(to_db)?;
    let mut txn = conn.begin().await.map_err(to_db)?;
    laps.lap("begin");
    let conn: &mut PgConnection = &mut txn;
    sqlx::raw_sql(STAGING).execute(&mut *conn).await.map_err(to_db)?;
    for (statement, data) in [(COPY_PERSONS, staged.persons), (COPY_RECORDS, staged.records)] {
        let mut copy = conn.copy_in_raw(statement).await.map_err(to_db)?;
        copy.send(data).await.map_err(to_db)?;
        copy.finish().await.map_err(to_db)?;
    }
    laps.lap("copy");
    let created: Vec<(i64, String)> = sqlx::query_as(CREATE_NEW)
        .bind(&insurer)
        .bind(now)
        .bind(ACTIVE)
        .bind(recorded_by)
        .fetch_all(&mut *conn)
        .await
        .map_err(to_db)?;
    laps.lap("create");
    let by_number: HashMap<&str, &ImportPerson> = rows.iter().map(|r| (r.key.insured(), r)).collect();
    let created_numbers: HashSet<&str> = created.iter().map(|(_, n)| n.as_str()).collect();
    let mut created_keys = Vec::with_capacity(created.len());
    let mut outcome = ChunkOutcome { created: created.len() as u64, ..ChunkOutcome::default() };
    let changed = {
        let on = OnConnection(tokio::sync::Mutex::new(&mut *conn));
        // A chunk of new persons only has nothing stored to compare.
        let differing = if created.len() == rows.len() {
            Vec::new()
        } else {
            let values = [insurer.clone().into(), ACTIVE.into()];
            let found =
                on.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, DIFFERING, values)).await?;
            super::persons_and_records_of(&found)?
        };
        laps.lap("compare");
        let mut candidates: Vec<&ImportPerson> = Vec::with_capacity(differing.len());
        let mut stored = HashMap::with_capacity(differing.len());
        for (person, records) in differing {
            if created_numbers.contains(person.insured_number.as_str()) {
                continue;
            }
            if let Some(&row) = by_number.get(person.insured_number.as_str()) {
                candidates.push(row);
                stored.insert(row.key, (person, records));
            }
        }
        outcome.unchanged = (rows.len() - created.len() - candidates.len()) as u64;
        for (id, number) in &created {
            let Some(row) = by_number.get(number.as_str()) else {
                return Err(DbErr::Custom("an imported person was not among the chunk's rows".to_owned()));
            };
            created_keys.push(row.key);
            if !row.uses.is_empty() {
                let uses: Vec<_> = row.uses.iter().map(|u| (None, u)).collect();
                crate::store::allowances::apply_import(&on, *id, &uses, recorded_by, now).await?;
            }
        }
        let (compared, changed, also_created) =
            super::apply_rows(&on, true, &candidates, Some(stored), recorded_by, now, &mut laps).await?;
        outcome.created += compared.created;
        outcome.changed += compared.changed;
        outcome.unchanged += compared.unchanged;
        created_keys.extend(also_created);
        changed
    };
    txn.commit().await.map_err(to_db)?;
    laps.lap("commit");
    Ok((outcome, changed, created_keys))
}

/// `COPY … (FORMAT binary)` data: the signature, then tuples, then the trailer.
struct CopyBinary(Vec<u8>);

impl CopyBinary {
    fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + 21);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self(buf)
    }

    fn tuple(&mut self, fields: i16) {
        self.0.extend_from_slice(&fields.to_be_bytes());
    }

    fn bytes(&mut self, value: &[u8]) {
        // A field longer than i32::MAX bytes cannot occur: rows are bounded by the RPC's limits.
        self.0.extend_from_slice(&(value.len() as i32).to_be_bytes());
        self.0.extend_from_slice(value);
    }

    fn text(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    fn int2(&mut self, value: i16) {
        self.bytes(&value.to_be_bytes());
    }

    fn boolean(&mut self, value: bool) {
        self.bytes(&[u8::from(value)]);
    }

    /// Days since 2000-01-01, PostgreSQL's epoch; NULL for `None`.
    fn date(&mut self, value: Option<NaiveDate>) {
        match value {
            Some(date) => {
                let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
                self.bytes(&((date - epoch).num_days() as i32).to_be_bytes());
            }
            None => self.0.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

/// sea-orm statements on one raw connection (inside the transaction begun on it), so that what
/// sea-orm builds — lookups, updates, allowance uses, outbox events — joins the `COPY`s'
/// transaction.
struct OnConnection<'c>(tokio::sync::Mutex<&'c mut PgConnection>);

fn query(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(sea_orm::Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

#[sea_orm_migration::async_trait::async_trait]
impl ConnectionTrait for OnConnection<'_> {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut conn = self.0.lock().await;
        query(&stmt).execute(&mut **conn).await.map(Into::into).map_err(to_db)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut conn = self.0.lock().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut **conn).await.map(Into::into).map_err(to_db)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut conn = self.0.lock().await;
        query(&stmt).fetch_optional(&mut **conn).await.map(|row| row.map(Into::into)).map_err(to_db)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut conn = self.0.lock().await;
        query(&stmt).fetch_all(&mut **conn).await.map(|rows| rows.into_iter().map(Into::into).collect()).map_err(to_db)
    }
}

#[cfg(test)]
mod tests {
    use super::CopyBinary;

    #[test]
    fn binary_copy_data_has_the_signature_lengths_and_trailer() {
        let mut data = CopyBinary::new(0);
        data.tuple(3);
        data.text("ab");
        data.date(chrono::NaiveDate::from_ymd_opt(2000, 1, 2));
        data.date(None);
        let bytes = data.finish();
        assert_eq!(&bytes[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(
            &bytes[19..],
            [0, 3, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff].as_slice()
        );
    }
}
