//! Everything eligibility keeps in its database schema: the only place with SQL.

pub mod bulk;
pub mod entities;
pub mod migration;
pub mod write;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, Statement, Value,
};

use crate::domain::{Detail, PersonCore, Record, Timeline};
use crate::key::PersonKey;
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

/// One audited read.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// When.
    pub at: chrono::DateTime<Utc>,
    /// Caller role.
    pub caller_role: &'static str,
    /// Caller organisation number (insurer, office or institution).
    pub caller_org: String,
    /// Caller account.
    pub caller_subject: String,
    /// The RPC.
    pub rpc: &'static str,
    /// Stated purpose.
    pub purpose: String,
    /// Whose record.
    pub key: PersonKey,
    /// verdict or denial.
    pub outcome: &'static str,
}

/// The eligibility store.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// A store over the service's schema.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The person row, if any.
    pub async fn person(&self, key: &PersonKey) -> Result<Option<person::Model>, DbErr> {
        person::Entity::find()
            .filter(person::Column::InsurerNumber.eq(key.insurer()))
            .filter(person::Column::InsuredNumber.eq(key.insured()))
            .one(&self.db)
            .await
    }

    /// The person's timeline (active records only), or `None` for an unknown person.
    pub async fn timeline(&self, key: &PersonKey) -> Result<Option<(Timeline, PersonDetails)>, DbErr> {
        let Some(person) = self.person(key).await? else { return Ok(None) };
        let records = record::Entity::find()
            .filter(record::Column::PersonId.eq(person.id))
            .filter(record::Column::State.eq(ACTIVE))
            .all(&self.db)
            .await?;
        let records = records.iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
        Ok(Some((Timeline { person: core_of(&person), records }, details_of(&person))))
    }

    /// Every record of the person in every state, oldest first.
    pub async fn history(&self, person_id: i64) -> Result<Vec<record::Model>, DbErr> {
        record::Entity::find()
            .filter(record::Column::PersonId.eq(person_id))
            .order_by_asc(record::Column::Id)
            .all(&self.db)
            .await
    }

    /// Starts a write stamped `now` (see [`WriteTx`]).
    pub async fn begin_write(&self, now: DateTime<Utc>) -> Result<WriteTx, DbErr> {
        write::begin(&self.db, now).await
    }

    /// Starts a write inside an existing transaction (as a savepoint), so it commits or rolls
    /// back with it: event consumers write this way, together with their dedup record.
    pub async fn begin_write_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        now: DateTime<Utc>,
    ) -> Result<WriteTx, DbErr> {
        write::begin(txn, now).await
    }

    /// Appends audit entries: with COPY on PostgreSQL (an order of magnitude faster than
    /// INSERT, so auditing keeps up with the hot path), one multi-row INSERT on SQLite.
    pub async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), DbErr> {
        if entries.is_empty() {
            return Ok(());
        }
        if kaigo_platform::db::is_postgres(&self.db) {
            return self.copy_audit(entries).await;
        }
        let backend = self.db.get_database_backend();
        let postgres = kaigo_platform::db::is_postgres(&self.db);
        let mut sql = String::from(
            "INSERT INTO audit_log (at, caller_role, caller_org, caller_subject, rpc, purpose, insurer_number, insured_number, outcome) VALUES ",
        );
        let mut values: Vec<Value> = Vec::with_capacity(entries.len() * 9);
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for j in 0..9 {
                if j > 0 {
                    sql.push(',');
                }
                if postgres {
                    sql.push_str(&format!("${}", i * 9 + j + 1));
                } else {
                    sql.push('?');
                }
            }
            sql.push(')');
            values.extend([
                e.at.into(),
                e.caller_role.into(),
                e.caller_org.clone().into(),
                e.caller_subject.clone().into(),
                e.rpc.into(),
                e.purpose.clone().into(),
                e.key.insurer().to_owned().into(),
                e.key.insured().to_owned().into(),
                e.outcome.into(),
            ]);
        }
        self.db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        Ok(())
    }

    async fn copy_audit(&self, entries: &[AuditEntry]) -> Result<(), DbErr> {
        let to_db = |e: sqlx::Error| DbErr::Custom(format!("audit copy: {e}"));
        let mut text = String::with_capacity(entries.len() * 96);
        for e in entries {
            let fields = [
                e.at.to_rfc3339(),
                copy_escape(e.caller_role),
                copy_escape(&e.caller_org),
                copy_escape(&e.caller_subject),
                copy_escape(e.rpc),
                copy_escape(&e.purpose),
                e.key.insurer().to_owned(),
                e.key.insured().to_owned(),
                copy_escape(e.outcome),
            ];
            text.push_str(&fields.join("\t"));
            text.push('\n');
        }
        let mut conn = self.db.get_postgres_connection_pool().acquire().await.map_err(to_db)?;
        let mut copy = conn
            .copy_in_raw(
                "COPY audit_log (at, caller_role, caller_org, caller_subject, rpc, purpose, insurer_number, insured_number, outcome) FROM STDIN",
            )
            .await
            .map_err(to_db)?;
        copy.send(text.into_bytes()).await.map_err(to_db)?;
        copy.finish().await.map_err(to_db)?;
        Ok(())
    }

    /// How many audit entries exist for `key` (for operators and tests).
    pub async fn audit_count(&self, key: &PersonKey) -> Result<i64, DbErr> {
        let backend = self.db.get_database_backend();
        let sql = if kaigo_platform::db::is_postgres(&self.db) {
            "SELECT COUNT(*) AS n FROM audit_log WHERE insurer_number = $1 AND insured_number = $2"
        } else {
            "SELECT COUNT(*) AS n FROM audit_log WHERE insurer_number = ? AND insured_number = ?"
        };
        let values: [Value; 2] = [key.insurer().to_owned().into(), key.insured().to_owned().into()];
        let row = self.db.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        row.map(|r| r.try_get::<i64>("", "n")).transpose().map(|n| n.unwrap_or(0))
    }
}

/// Escapes a value for COPY's text format (backslash, tab, newline, carriage return).
fn copy_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
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
    let detail: Detail = serde_json::from_str(&row.detail)
        .map_err(|e| DbErr::Custom(format!("record {} detail does not decode: {e}", row.id)))?;
    Ok(Record { id: row.id, start: row.start_date, end: row.end_date, detail })
}
