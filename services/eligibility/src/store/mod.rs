//! Everything eligibility keeps in its database schema: the only place with SQL.
//! Free functions over the connection or transaction they run on (no `Store` struct).

pub mod allowances;
pub mod bulk;
pub mod entities;
pub mod migrate_offices;
pub mod migrate_qualification;
pub mod migration;
pub mod write;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use crate::domain::{Detail, PersonCore, Record, Timeline};
use crate::key::PersonKey;
pub use bulk::import_chunk;
pub use entities::{person, record};
pub use write::WriteTx;

/// Record states as stored.
pub const ACTIVE: i16 = 1;
/// Replaced by a correction.
pub const SUPERSEDED: i16 = 2;
/// Entered in error.
pub const VOIDED: i16 = 3;

/// Personal details, loaded only for callers allowed to see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonDetails {
    /// 氏名.
    pub name_kanji: String,
    /// フリガナ.
    pub name_kana: String,
    /// 生年月日.
    pub birth_date: Option<NaiveDate>,
    /// 1 male, 2 female, 0 unknown.
    pub sex: i16,
}

/// The person row, if any.
pub async fn find_person(conn: &impl ConnectionTrait, key: &PersonKey) -> Result<Option<person::Model>, DbErr> {
    person::Entity::find()
        .filter(person::Column::InsurerNumber.eq(key.insurer()))
        .filter(person::Column::InsuredNumber.eq(key.insured()))
        .one(conn)
        .await
}

/// The person's timeline (active records only), or `None` for an unknown person.
pub async fn timeline(
    conn: &impl ConnectionTrait,
    key: &PersonKey,
) -> Result<Option<(Timeline, PersonDetails)>, DbErr> {
    if kaigo_platform::db::is_postgres(conn) {
        return timeline_in_one(conn, key).await;
    }
    let Some(person) = find_person(conn, key).await? else { return Ok(None) };
    let records = record::Entity::find()
        .filter(record::Column::PersonId.eq(person.id))
        .filter(record::Column::State.eq(ACTIVE))
        .all(conn)
        .await?;
    let records = records.iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
    Ok(Some((Timeline { person: core_of(&person), records }, details_of(&person))))
}

/// The person and their active records in one statement (PostgreSQL): a cache miss is one
/// round trip here instead of two. A person without active records comes back as one row
/// with the record columns NULL.
const TIMELINE_IN_ONE: &str = "SELECT p.*, r.id AS r_id, r.start_date AS r_start, r.end_date AS r_end, \
     r.detail AS r_detail FROM persons p LEFT JOIN records r ON r.person_id = p.id AND r.state = $3 \
     WHERE p.insurer_number = $1 AND p.insured_number = $2 ORDER BY r.id";

async fn timeline_in_one(
    conn: &impl ConnectionTrait,
    key: &PersonKey,
) -> Result<Option<(Timeline, PersonDetails)>, DbErr> {
    use sea_orm::{FromQueryResult, Statement};
    let values = [key.insurer().into(), key.insured().into(), ACTIVE.into()];
    let statement = Statement::from_sql_and_values(conn.get_database_backend(), TIMELINE_IN_ONE, values);
    let rows = conn.query_all_raw(statement).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let person = person::Model::from_query_result(first, "")?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(id) = row.try_get::<Option<i64>>("", "r_id")? else { continue };
        let detail: String = row.try_get("", "r_detail")?;
        records.push(record_of(id, row.try_get("", "r_start")?, row.try_get("", "r_end")?, &detail)?);
    }
    Ok(Some((Timeline { person: core_of(&person), records }, details_of(&person))))
}

/// The most persons one statement of [`timelines`] or [`access_facts_many`] names: the
/// cache reads larger sets of misses in several statements.
pub const MANY_MAX: usize = 128;

/// `keys` padded with copies of its last key to the next power of two (at most
/// [`MANY_MAX`]): a statement names a person twice at no cost, and a handful of statement
/// texts (1, 2, 4 … 128 persons) then serve every batch, each prepared once per connection
/// instead of one text per batch size. Empty for no keys.
pub fn padded(keys: &[PersonKey]) -> Vec<PersonKey> {
    let Some(last) = keys.last() else { return Vec::new() };
    let len = keys.len().next_power_of_two();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(keys);
    out.resize(len, *last);
    out
}

/// The key of a stored person row (its numbers were validated when written).
fn key_of(person: &person::Model) -> Option<PersonKey> {
    let (insurer, insured) = (person.insurer_number.as_bytes(), person.insured_number.as_bytes());
    if insurer.len() != 6 || insured.len() != 10 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(insurer);
    bytes[6..].copy_from_slice(insured);
    PersonKey::from_bytes(&bytes)
}

/// The timelines (active records only) of the known persons among `keys` (at most
/// [`MANY_MAX`] a statement), by key; an unknown person is absent. On PostgreSQL one
/// statement for them all (the cache's concurrent misses read together, one round trip).
pub async fn timelines(
    conn: &impl ConnectionTrait,
    keys: &[PersonKey],
) -> Result<HashMap<PersonKey, (Timeline, PersonDetails)>, DbErr> {
    let mut out = HashMap::with_capacity(keys.len());
    if !kaigo_platform::db::is_postgres(conn) {
        for key in keys {
            if let Some(found) = timeline(conn, key).await? {
                out.insert(*key, found);
            }
        }
        return Ok(out);
    }
    for chunk in keys.chunks(MANY_MAX) {
        timelines_in_one(conn, chunk, &mut out).await?;
    }
    Ok(out)
}

/// The text of [`timelines`]' statement for `n` persons: the person and record columns of
/// [`TIMELINE_IN_ONE`], ordered so that each person's rows come together.
fn timelines_sql(n: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::from(
        "SELECT p.*, r.id AS r_id, r.start_date AS r_start, r.end_date AS r_end, r.detail AS r_detail \
         FROM persons p LEFT JOIN records r ON r.person_id = p.id AND r.state = $1 \
         WHERE (p.insurer_number, p.insured_number) IN (",
    );
    for i in 0..n {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(sql, "{sep}(${}, ${})", 2 * i + 2, 2 * i + 3);
    }
    sql.push_str(") ORDER BY p.id, r.id");
    sql
}

async fn timelines_in_one(
    conn: &impl ConnectionTrait,
    keys: &[PersonKey],
    out: &mut HashMap<PersonKey, (Timeline, PersonDetails)>,
) -> Result<(), DbErr> {
    use sea_orm::{FromQueryResult, Statement, Value};
    let keys = padded(keys);
    let mut values: Vec<Value> = Vec::with_capacity(2 * keys.len() + 1);
    values.push(ACTIVE.into());
    for key in &keys {
        values.push(key.insurer().into());
        values.push(key.insured().into());
    }
    let statement = Statement::from_sql_and_values(conn.get_database_backend(), timelines_sql(keys.len()), values);
    let rows = conn.query_all_raw(statement).await?;
    // Rows come person by person; each person's first row opens its entry.
    let mut current: Option<(PersonKey, i64)> = None;
    for row in &rows {
        let person_id: i64 = row.try_get("", "id")?;
        if current.is_none_or(|(_, id)| id != person_id) {
            let person = person::Model::from_query_result(row, "")?;
            let key = key_of(&person)
                .ok_or_else(|| DbErr::Custom(format!("person {} has numbers no key is made of", person.id)))?;
            out.insert(key, (Timeline { person: core_of(&person), records: Vec::new() }, details_of(&person)));
            current = Some((key, person_id));
        }
        let Some(id) = row.try_get::<Option<i64>>("", "r_id")? else { continue };
        let detail: String = row.try_get("", "r_detail")?;
        let record = record_of(id, row.try_get("", "r_start")?, row.try_get("", "r_end")?, &detail)?;
        if let Some((timeline, _)) = current.and_then(|(key, _)| out.get_mut(&key)) {
            timeline.records.push(record);
        }
    }
    Ok(())
}

/// The access facts of each of `keys` (a person without any has [`Facts::default`]), in one
/// statement per [`MANY_MAX`] persons (kaigo_platform::access::load_many, its list padded as
/// [`padded`] says).
///
/// [`Facts::default`]: kaigo_platform::access::Facts
pub async fn access_facts_many(
    conn: &impl ConnectionTrait,
    keys: &[PersonKey],
) -> Result<HashMap<PersonKey, kaigo_platform::access::Facts>, DbErr> {
    use kaigo_platform::access::{Person, PersonRef};
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(MANY_MAX) {
        let padded = padded(chunk);
        let persons: Vec<PersonRef<'_>> = padded.iter().map(|k| PersonRef::new(k.insurer(), k.insured())).collect();
        let mut found = kaigo_platform::access::load_many(conn, &persons).await?;
        for key in chunk {
            // A key named twice gets the facts its first mention took.
            out.entry(*key).or_insert_with(|| {
                found.remove(&Person::from(PersonRef::new(key.insurer(), key.insured()))).unwrap_or_default()
            });
        }
    }
    Ok(out)
}

/// The person's access facts from the service's copy of the registry's
/// (docs/domain/access.md#facts-copy).
pub async fn access_facts(
    conn: &impl ConnectionTrait,
    key: &PersonKey,
) -> Result<kaigo_platform::access::Facts, DbErr> {
    kaigo_platform::access::load(conn, kaigo_platform::access::PersonRef::new(key.insurer(), key.insured())).await
}

/// Every record of the person in every state, oldest first.
pub async fn history(conn: &impl ConnectionTrait, person_id: i64) -> Result<Vec<record::Model>, DbErr> {
    record::Entity::find()
        .filter(record::Column::PersonId.eq(person_id))
        .order_by_asc(record::Column::Id)
        .all(conn)
        .await
}

/// Starts a write stamped `now` (see [`WriteTx`]) through `db`: the pool, or an existing
/// transaction whose savepoint the write becomes, so it commits or rolls back with it (event
/// consumers write this way, together with their dedup record).
pub async fn begin_write<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<WriteTx, DbErr> {
    write::begin(db, now).await
}

/// The insurance facts of a person row.
pub fn core_of(person: &person::Model) -> PersonCore {
    PersonCore {
        category: u8::try_from(person.category).unwrap_or(0),
        acquired: person.acquired_date,
        lost: person.lost_date,
        version: person.version,
        changed_at: person.updated_at.timestamp(),
    }
}

/// The personal details of a person row.
pub fn details_of(person: &person::Model) -> PersonDetails {
    PersonDetails {
        name_kanji: person.name_kanji.clone(),
        name_kana: person.name_kana.clone(),
        birth_date: person.birth_date,
        sex: person.sex,
    }
}

/// A stored record as a domain record.
pub fn to_domain(row: &record::Model) -> Result<Record, DbErr> {
    record_of(row.id, row.start_date, row.end_date, &row.detail)
}

/// A record from its stored columns (`detail` the domain `Detail` as JSON).
fn record_of(id: i64, start: NaiveDate, end: Option<NaiveDate>, detail: &str) -> Result<Record, DbErr> {
    let detail: Detail =
        serde_json::from_str(detail).map_err(|e| DbErr::Custom(format!("record {id} detail does not decode: {e}")))?;
    Ok(Record { id, start, end, detail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

    fn key(insured: &str) -> PersonKey {
        PersonKey::new(&InsurerNumber::parse("435073").unwrap(), &InsuredNumber::parse(insured).unwrap())
    }

    #[test]
    fn padded_repeats_the_last_key_up_to_the_next_power_of_two() {
        assert!(padded(&[]).is_empty());
        let (a, b, c) = (key("0000000001"), key("0000000002"), key("0000000003"));
        assert_eq!(padded(&[a]), vec![a]);
        assert_eq!(padded(&[a, b]), vec![a, b]);
        assert_eq!(padded(&[a, b, c]), vec![a, b, c, c]);
        let many: Vec<PersonKey> = (1..=65).map(|n| key(&format!("{n:010}"))).collect();
        let out = padded(&many);
        assert_eq!(out.len(), 128);
        assert_eq!(&out[..65], many.as_slice());
        assert!(out[65..].iter().all(|k| *k == many[64]));
        let sizes: std::collections::BTreeSet<usize> = (1..=MANY_MAX).map(|n| padded(&many_of(n)).len()).collect();
        assert_eq!(sizes.into_iter().collect::<Vec<_>>(), vec![1, 2, 4, 8, 16, 32, 64, 128]);
    }

    fn many_of(n: usize) -> Vec<PersonKey> {
        (1..=n).map(|i| key(&format!("{i:010}"))).collect()
    }

    #[test]
    fn the_statement_numbers_each_persons_pair_after_the_state() {
        assert_eq!(
            timelines_sql(2),
            "SELECT p.*, r.id AS r_id, r.start_date AS r_start, r.end_date AS r_end, r.detail AS r_detail \
             FROM persons p LEFT JOIN records r ON r.person_id = p.id AND r.state = $1 \
             WHERE (p.insurer_number, p.insured_number) IN (($2, $3), ($4, $5)) ORDER BY p.id, r.id"
        );
    }
}
