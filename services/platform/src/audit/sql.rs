//! The SQL of the audit trail: `COPY` and multi-row `INSERT` of [`Row`]s, and the queries a
//! person's view and the tests use. On PostgreSQL the persons and resources are `text[]`
//! (searchable through a GIN index); on SQLite they are JSON arrays in text.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement, Value};

use super::Row;
use super::binary::COLUMNS;

const WIDTH: usize = 10;

/// Writes `rows` with the fastest statement the connection offers: `COPY` on a PostgreSQL pool.
pub(crate) async fn write(db: &DatabaseConnection, rows: &[Row]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    if db.get_database_backend() == DbBackend::Postgres {
        return copy(db, rows).await;
    }
    insert(db, rows).await
}

/// A multi-row `INSERT` through `conn` (a transaction or a pool).
pub(crate) async fn insert(conn: &impl ConnectionTrait, rows: &[Row]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let mut sql = format!("INSERT INTO audit_trail ({COLUMNS}) VALUES ");
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * WIDTH);
    for (i, row) in rows.iter().enumerate() {
        sql.push_str(if i == 0 { "(" } else { ",(" });
        for j in 0..WIDTH {
            if j > 0 {
                sql.push(',');
            }
            if postgres {
                let n = i * WIDTH + j + 1;
                sql.push_str(&if j >= 8 { format!("${n}::text[]") } else { format!("${n}") });
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
        let list = |items: &[String]| if postgres { pg_array(items) } else { json_array(items) };
        values.extend([
            row.at.into(),
            row.caller_role.into(),
            row.caller_party.clone().into(),
            row.caller_subject.clone().into(),
            row.read.rpc.into(),
            row.read.category.into(),
            row.read.purpose.clone().into(),
            row.read.outcome.into(),
            list(&row.read.persons).into(),
            list(&row.read.resources).into(),
        ]);
    }
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.map(|_| ())
}

/// `COPY audit_trail FROM STDIN` in binary format ([`super::binary`]): one round trip for the
/// whole batch, nothing formatted here or parsed there.
async fn copy(db: &DatabaseConnection, rows: &[Row]) -> Result<(), DbErr> {
    let to_db = |e: sea_orm::sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e)));
    let data = super::binary::encode(rows);
    let mut conn = db.get_postgres_connection_pool().acquire().await.map_err(to_db)?;
    let statement = format!("COPY audit_trail ({COLUMNS}) FROM STDIN WITH (FORMAT binary)");
    let mut copy = conn.copy_in_raw(&statement).await.map_err(to_db)?;
    copy.send(data).await.map_err(to_db)?;
    copy.finish().await.map_err(to_db)?;
    Ok(())
}

/// A PostgreSQL array literal with every element quoted (`{"a","b"}`).
fn pg_array(items: &[String]) -> String {
    let mut out = String::new();
    push_pg_array(&mut out, items);
    out
}

/// [`pg_array`], appended to `out`.
fn push_pg_array(out: &mut String, items: &[String]) {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
}

fn json_array(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// One stored read, as the person's own view and operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRead {
    /// When.
    pub at: DateTime<Utc>,
    /// The reader's role.
    pub caller_role: String,
    /// The reader's organisation (or account, for operators).
    pub caller_party: String,
    /// The RPC.
    pub rpc: String,
    /// What kind of record.
    pub category: String,
    /// Stated purpose.
    pub purpose: String,
    /// How it went.
    pub outcome: String,
}

fn person_filter(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres {
        "persons @> ARRAY[$1]::text[]"
    } else {
        "EXISTS (SELECT 1 FROM json_each(audit_trail.persons) WHERE json_each.value = ?)"
    }
}

/// How many records name `person` ([`super::person`]).
pub async fn count_for_person(conn: &impl ConnectionTrait, person: &str) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    let sql = format!("SELECT COUNT(*) AS n FROM audit_trail WHERE {}", person_filter(backend));
    count(conn, Statement::from_sql_and_values(backend, sql, [person.into()])).await
}

/// How many records the trail holds.
pub async fn count_all(conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
    count(conn, Statement::from_string(conn.get_database_backend(), "SELECT COUNT(*) AS n FROM audit_trail")).await
}

async fn count(conn: &impl ConnectionTrait, statement: Statement) -> Result<u64, DbErr> {
    let row = conn.query_one_raw(statement).await?;
    let n = row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The newest `limit` reads of `person`'s records, newest first.
pub async fn reads_of_person(conn: &impl ConnectionTrait, person: &str, limit: u32) -> Result<Vec<StoredRead>, DbErr> {
    let backend = conn.get_database_backend();
    let limit_param = if backend == DbBackend::Postgres { "$2" } else { "?" };
    let sql = format!(
        "SELECT at, caller_role, caller_party, rpc, category, purpose, outcome FROM audit_trail \
         WHERE {} ORDER BY at DESC, id DESC LIMIT {limit_param}",
        person_filter(backend)
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [person.into(), i64::from(limit).into()]))
        .await?;
    rows.iter().map(stored_read).collect()
}

/// The reads that name `resource` (an application id, a bundle id …), oldest first (for
/// operators and tests).
pub async fn reads_of_resource(conn: &impl ConnectionTrait, resource: &str) -> Result<Vec<StoredRead>, DbErr> {
    let backend = conn.get_database_backend();
    let filter = if backend == DbBackend::Postgres {
        // The second condition lets the planner use the index, which covers only the reads
        // that name a resource (super::migration::AuditIndexMigration).
        "resources @> ARRAY[$1]::text[] AND resources <> '{}'"
    } else {
        "EXISTS (SELECT 1 FROM json_each(audit_trail.resources) WHERE json_each.value = ?)"
    };
    let sql = format!(
        "SELECT at, caller_role, caller_party, rpc, category, purpose, outcome FROM audit_trail \
         WHERE {filter} ORDER BY at, id"
    );
    let rows = conn.query_all_raw(Statement::from_sql_and_values(backend, sql, [resource.into()])).await?;
    rows.iter().map(stored_read).collect()
}

/// A [`StoredRead`] from a row holding its columns.
fn stored_read(r: &QueryResult) -> Result<StoredRead, DbErr> {
    Ok(StoredRead {
        at: r.try_get("", "at")?,
        caller_role: r.try_get("", "caller_role")?,
        caller_party: r.try_get("", "caller_party")?,
        rpc: r.try_get("", "rpc")?,
        category: r.try_get("", "category")?,
        purpose: r.try_get("", "purpose")?,
        outcome: r.try_get("", "outcome")?,
    })
}

/// One stored read with its position in the trail (its row id), for pages that continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionedRead {
    /// The trail's row id: orders reads made at the same instant.
    pub sequence: i64,
    /// The reader's account (the token subject): compared with the asking person's own, never
    /// shown.
    pub caller_subject: String,
    /// The read.
    pub read: StoredRead,
}

/// The newest `limit` reads of `person`'s records before `before` (made before its instant, or
/// at it with a lower row id), newest first (time, then row id, descending).
pub async fn reads_of_person_before(
    conn: &impl ConnectionTrait,
    person: &str,
    before: Option<(DateTime<Utc>, i64)>,
    limit: u32,
) -> Result<Vec<PositionedRead>, DbErr> {
    let backend = conn.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let mut values: Vec<Value> = vec![person.into()];
    let mut position = String::new();
    if let Some((at, sequence)) = before {
        position = if postgres {
            " AND (at < $2 OR (at = $3 AND id < $4))".to_owned()
        } else {
            " AND (at < ? OR (at = ? AND id < ?))".to_owned()
        };
        values.extend([at.into(), at.into(), sequence.into()]);
    }
    let limit_param = if postgres { format!("${}", values.len() + 1) } else { "?".to_owned() };
    values.push(i64::from(limit).into());
    let sql = format!(
        "SELECT id, at, caller_role, caller_party, caller_subject, rpc, category, purpose, outcome FROM audit_trail \
         WHERE {}{position} ORDER BY at DESC, id DESC LIMIT {limit_param}",
        person_filter(backend)
    );
    let rows = conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    rows.iter()
        .map(|r| {
            Ok(PositionedRead {
                sequence: r.try_get("", "id")?,
                caller_subject: r.try_get("", "caller_subject")?,
                read: stored_read(r)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_quote_every_element() {
        assert_eq!(pg_array(&[]), "{}");
        assert_eq!(pg_array(&["435073:0000000001".to_owned()]), "{\"435073:0000000001\"}");
        assert_eq!(pg_array(&["a\"b".to_owned(), "c\\d".to_owned()]), "{\"a\\\"b\",\"c\\\\d\"}");
        assert_eq!(json_array(&["x".to_owned()]), "[\"x\"]");
    }
}
