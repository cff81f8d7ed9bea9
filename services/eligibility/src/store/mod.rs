//! Everything eligibility keeps in its database schema: the only place with SQL.
//! Free functions over the connection or transaction they run on (no `Store` struct).

pub mod allowances;
pub mod bulk;
pub mod entities;
pub mod migrate_offices;
pub mod migrate_qualification;
pub mod migration;
pub mod write;

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
