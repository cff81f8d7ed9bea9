//! Bulk loading for imports: whole chunks of persons in a handful of statements.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, Statement, TransactionTrait, Value};

use super::{ACTIVE, Store, VOIDED, person, to_domain};
use crate::domain::{Period, Record};
use crate::key::PersonKey;
use crate::store::write::{CHANGED_TOPIC, kind_code};

/// One person of an import with all their current periods.
#[derive(Debug, Clone)]
pub struct ImportPerson {
    /// Whose.
    pub key: PersonKey,
    /// The person row (id and version ignored).
    pub person: person::Model,
    /// Every active period, as the extract states them.
    pub periods: Vec<Period>,
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

fn same_person(a: &person::Model, b: &person::Model) -> bool {
    a.name_kanji == b.name_kanji
        && a.name_kana == b.name_kana
        && a.birth_date == b.birth_date
        && a.sex == b.sex
        && a.category == b.category
        && a.acquired_date == b.acquired_date
        && a.lost_date == b.lost_date
        && a.card_issued_date == b.card_issued_date
}

fn same_periods(stored: &[Record], wanted: &[Period]) -> bool {
    stored.len() == wanted.len()
        && wanted.iter().all(|(start, end, detail)| {
            stored.iter().any(|r| r.start == *start && r.end == *end && &r.detail == detail)
        })
}

impl Store {
    /// Applies one chunk in one transaction: creates new persons, updates changed ones
    /// (their differing periods are voided and the extract's inserted), skips identical ones.
    /// Returns the outcome, the keys of changed persons (to invalidate everywhere) and of
    /// created ones (only possibly cached as unknown: a negative entry, in L1, short-lived).
    pub async fn import_chunk(
        &self,
        rows: &[ImportPerson],
        recorded_by: &str,
    ) -> Result<(ChunkOutcome, Vec<PersonKey>, Vec<PersonKey>), DbErr> {
        let txn = self.db().begin().await?;
        let postgres = kaigo_platform::db::is_postgres(&txn);
        let existing = load_existing(&txn, rows).await?;
        let mut outcome = ChunkOutcome::default();
        let mut changed = Vec::new();
        let mut created = Vec::new();
        let mut new_people: Vec<&ImportPerson> = Vec::new();
        let mut record_rows: Vec<(i64, &Period)> = Vec::new();
        for row in rows {
            match existing.get(&row.key) {
                None => new_people.push(row),
                Some((stored, records)) => {
                    if same_person(stored, &row.person) && same_periods(records, &row.periods) {
                        outcome.unchanged += 1;
                        continue;
                    }
                    outcome.changed += 1;
                    changed.push(row.key);
                    let now = Utc::now();
                    let backend = txn.get_database_backend();
                    let p = &row.person;
                    let sql = if postgres {
                        "UPDATE persons SET name_kanji=$1, name_kana=$2, birth_date=$3, sex=$4, category=$5, acquired_date=$6, lost_date=$7, card_issued_date=$8, version=version+1, updated_at=$9 WHERE id=$10"
                    } else {
                        "UPDATE persons SET name_kanji=?, name_kana=?, birth_date=?, sex=?, category=?, acquired_date=?, lost_date=?, card_issued_date=?, version=version+1, updated_at=? WHERE id=?"
                    };
                    let values: Vec<Value> = vec![
                        p.name_kanji.clone().into(),
                        p.name_kana.clone().into(),
                        p.birth_date.into(),
                        p.sex.into(),
                        p.category.into(),
                        p.acquired_date.into(),
                        p.lost_date.into(),
                        p.card_issued_date.into(),
                        now.into(),
                        stored.id.into(),
                    ];
                    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
                    // Periods the extract no longer states are voided (kept in history).
                    for old in records
                        .iter()
                        .filter(|r| !row.periods.iter().any(|(s, e, d)| r.start == *s && r.end == *e && &r.detail == d))
                    {
                        let sql = if postgres {
                            "UPDATE records SET state=$1 WHERE id=$2"
                        } else {
                            "UPDATE records SET state=? WHERE id=?"
                        };
                        txn.execute_raw(Statement::from_sql_and_values(backend, sql, [VOIDED.into(), old.id.into()]))
                            .await?;
                    }
                    for period in row
                        .periods
                        .iter()
                        .filter(|(s, e, d)| !records.iter().any(|r| r.start == *s && r.end == *e && &r.detail == d))
                    {
                        record_rows.push((stored.id, period));
                    }
                }
            }
        }
        if !new_people.is_empty() {
            let ids = insert_persons(&txn, postgres, &new_people).await?;
            for (row, id) in new_people.iter().zip(ids) {
                outcome.created += 1;
                created.push(row.key);
                record_rows.extend(row.periods.iter().map(|p| (id, p)));
            }
        }
        insert_records(&txn, postgres, &record_rows, recorded_by).await?;
        for key in &changed {
            kaigo_platform::events::enqueue(
                &txn,
                kaigo_platform::events::NewEvent {
                    topic: CHANGED_TOPIC.to_owned(),
                    key: key.insurer().to_owned(),
                    payload: key.as_bytes().to_vec(),
                },
            )
            .await?;
        }
        txn.commit().await?;
        Ok((outcome, changed, created))
    }
}

async fn load_existing(
    txn: &DatabaseTransaction,
    rows: &[ImportPerson],
) -> Result<HashMap<PersonKey, (person::Model, Vec<Record>)>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut out = HashMap::new();
    if rows.is_empty() {
        return Ok(out);
    }
    // One insurer per import: select by insured numbers within it.
    let insurer = rows[0].key.insurer().to_owned();
    let numbers: Vec<String> = rows.iter().map(|r| r.key.insured().to_owned()).collect();
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
    // One lookup per person, not a scan of the chunk per person (chunks hold thousands).
    let keys: HashMap<&str, PersonKey> = rows.iter().map(|r| (r.key.insured(), r.key)).collect();
    for p in people {
        if let Some(&key) = keys.get(p.insured_number.as_str()) {
            let records = by_person.remove(&p.id).unwrap_or_default();
            out.insert(key, (p, records));
        }
    }
    Ok(out)
}

async fn insert_persons(
    txn: &DatabaseTransaction,
    postgres: bool,
    people: &[&ImportPerson],
) -> Result<Vec<i64>, DbErr> {
    const COLS: usize = 12;
    let backend = txn.get_database_backend();
    let now = Utc::now();
    let mut ids = Vec::with_capacity(people.len());
    // PostgreSQL takes at most 65535 parameters a statement.
    for part in people.chunks(5_000) {
        let sql = format!(
            "INSERT INTO persons (insurer_number, insured_number, name_kanji, name_kana, birth_date, sex, category, acquired_date, lost_date, card_issued_date, version, updated_at) VALUES {} RETURNING id",
            placeholders(postgres, part.len(), COLS)
        );
        let mut values: Vec<Value> = Vec::with_capacity(part.len() * COLS);
        for row in part {
            let p = &row.person;
            values.extend([
                row.key.insurer().to_owned().into(),
                row.key.insured().to_owned().into(),
                p.name_kanji.clone().into(),
                p.name_kana.clone().into(),
                p.birth_date.into(),
                p.sex.into(),
                p.category.into(),
                p.acquired_date.into(),
                p.lost_date.into(),
                p.card_issued_date.into(),
                1i64.into(),
                now.into(),
            ]);
        }
        let returned = txn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        for row in returned {
            ids.push(row.try_get::<i64>("", "id")?);
        }
    }
    Ok(ids)
}

async fn insert_records(
    txn: &DatabaseTransaction,
    postgres: bool,
    rows: &[(i64, &Period)],
    recorded_by: &str,
) -> Result<(), DbErr> {
    const COLS: usize = 11;
    let backend = txn.get_database_backend();
    let now = Utc::now();
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
