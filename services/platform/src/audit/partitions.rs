//! The monthly partitions of `audit_trail` on PostgreSQL ([`super::migration::AuditPartitionMigration`]).
//!
//! The trail is partitioned by range of `at`, one partition per calendar month (UTC) named
//! `audit_trail_y<YYYY>m<MM>`, plus `audit_trail_default` for any instant no month partition
//! covers. [`ensure`] creates the current and the next month's partitions ahead of time (the
//! audit writer at start, the retention task at every pass), so a record normally lands in its
//! month; the default partition is the safety net that keeps an insert from ever failing for
//! lack of a partition, and [`ensure`] moves what it caught into the month's partition once
//! that is created. [`prune`] drops whole months past the retention and deletes only the rows
//! of the month the retention boundary falls in.
//!
//! On SQLite (`kaigo dev`), and on a schema whose trail is not partitioned, the trail is one
//! table and the retention deletes rows.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};

/// The default partition's name.
pub const DEFAULT_PARTITION: &str = "audit_trail_default";

/// How long partition DDL waits for a lock before giving up until the next pass: the audit
/// writer's COPY holds a lock on the table for one batch (milliseconds); a longer wait would
/// queue every later batch behind the DDL.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '5s'";

/// Serialises partition DDL between the replicas of one service (one schema).
const ADVISORY_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_trail_partitions'))";

/// The first instant (UTC) of the month `at` falls in.
pub fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    first_of(at.year(), at.month())
}

fn first_of(year: i32, month: u32) -> DateTime<Utc> {
    let date = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The first instant of the month after the one starting at `start`.
pub fn next_month(start: DateTime<Utc>) -> DateTime<Utc> {
    if start.month() == 12 { first_of(start.year() + 1, 1) } else { first_of(start.year(), start.month() + 1) }
}

/// The partition holding the month starting at `start`: `audit_trail_y2026m01`.
pub fn partition_name(start: DateTime<Utc>) -> String {
    format!("audit_trail_y{:04}m{:02}", start.year(), start.month())
}

/// The month a partition name stands for (its first instant), or `None` for another table.
pub fn partition_month(name: &str) -> Option<DateTime<Utc>> {
    let rest = name.strip_prefix("audit_trail_y")?;
    let (year, month) = rest.split_once('m')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let (year, month) = (year.parse::<i32>().ok()?, month.parse::<u32>().ok()?);
    NaiveDate::from_ymd_opt(year, month, 1)?;
    Some(first_of(year, month))
}

/// A timestamp literal for partition bounds (`'2026-01-01 00:00:00+00'`).
fn bound(at: DateTime<Utc>) -> String {
    format!("'{}'", at.format("%Y-%m-%d %H:%M:%S+00"))
}

/// `CREATE TABLE … PARTITION OF audit_trail` for the month starting at `start`.
pub(crate) fn create_month_sql(start: DateTime<Utc>) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF audit_trail FOR VALUES FROM ({}) TO ({})",
        partition_name(start),
        bound(start),
        bound(next_month(start))
    )
}

/// True when `conn`'s `audit_trail` is a partitioned PostgreSQL table.
pub async fn is_partitioned(conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relkind::text AS kind FROM pg_class c WHERE c.oid = to_regclass('audit_trail')",
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<String>("", "kind")).transpose()?.as_deref() == Some("p"))
}

/// The month partitions that exist, by first instant, oldest first.
pub async fn months(conn: &impl ConnectionTrait) -> Result<Vec<DateTime<Utc>>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = to_regclass('audit_trail')",
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(month) = partition_month(&row.try_get::<String>("", "name")?) {
            out.push(month);
        }
    }
    out.sort();
    Ok(out)
}

/// Creates the partitions of the month of `now` and the next month when missing. Returns how
/// many were created (0 as well on SQLite or an unpartitioned trail).
pub async fn ensure(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u32, DbErr> {
    if !is_partitioned(db).await? {
        return Ok(0);
    }
    let current = month_start(now);
    let wanted = [current, next_month(current)];
    let existing = months(db).await?;
    let mut created = 0;
    for month in wanted.into_iter().filter(|m| !existing.contains(m)) {
        if create_month(db, month).await? {
            created += 1;
        }
    }
    Ok(created)
}

/// Creates one month's partition, moving into it the rows the default partition caught for
/// that month (a partition cannot be created while the default holds rows in its range).
/// Returns false when another replica created it first.
async fn create_month(db: &DatabaseConnection, start: DateTime<Utc>) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let pg = |sql: String| Statement::from_string(DbBackend::Postgres, sql);
    txn.execute_unprepared(LOCK_TIMEOUT).await?;
    txn.execute_unprepared(ADVISORY_LOCK).await?;
    if months(&txn).await?.contains(&start) {
        txn.rollback().await?;
        return Ok(false);
    }
    let range = format!("at >= {} AND at < {}", bound(start), bound(next_month(start)));
    let caught = txn
        .query_one_raw(pg(format!("SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} WHERE {range}) AS caught")))
        .await?
        .map(|r| r.try_get::<bool>("", "caught"))
        .transpose()?
        .unwrap_or(false);
    if caught {
        // Rare (partitions are made a month ahead): the default is detached for the move, so
        // audit writes wait for this transaction.
        let name = partition_name(start);
        txn.execute_unprepared(&format!(
            "ALTER TABLE audit_trail DETACH PARTITION {DEFAULT_PARTITION}; {create}; \
             INSERT INTO {name} SELECT * FROM {DEFAULT_PARTITION} WHERE {range}; \
             DELETE FROM {DEFAULT_PARTITION} WHERE {range}; \
             ALTER TABLE audit_trail ATTACH PARTITION {DEFAULT_PARTITION} DEFAULT",
            create = create_month_sql(start),
        ))
        .await?;
        tracing::info!(partition = %name, "audit records caught by the default partition moved to their month");
    } else {
        txn.execute_unprepared(&create_month_sql(start)).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Whole month partitions dropped.
    pub partitions: u64,
    /// Rows deleted one by one: the month the boundary falls in and the default partition (on
    /// PostgreSQL), or every row past the retention (SQLite, an unpartitioned trail).
    pub rows: u64,
}

/// Removes the records made before `before`: on a partitioned trail, drops each month
/// partition that ends at or before it, then deletes the older rows left in the month it falls
/// in (and in the default partition); elsewhere deletes rows.
pub async fn prune(db: &DatabaseConnection, before: DateTime<Utc>) -> Result<Pruned, DbErr> {
    let backend = db.get_database_backend();
    let mut pruned = Pruned::default();
    if is_partitioned(db).await? {
        let expired: Vec<_> = months(db).await?.into_iter().filter(|m| next_month(*m) <= before).collect();
        if !expired.is_empty() {
            let txn = db.begin().await?;
            txn.execute_unprepared(LOCK_TIMEOUT).await?;
            txn.execute_unprepared(ADVISORY_LOCK).await?;
            let still = months(&txn).await?;
            for month in expired.iter().filter(|m| still.contains(m)) {
                txn.execute_unprepared(&format!("DROP TABLE IF EXISTS {}", partition_name(*month))).await?;
                pruned.partitions += 1;
            }
            txn.commit().await?;
        }
    }
    // The partitioned trail's remainder: partition pruning limits this to the boundary month
    // and the default partition.
    let sql = if backend == DbBackend::Postgres {
        "DELETE FROM audit_trail WHERE at < $1"
    } else {
        "DELETE FROM audit_trail WHERE at < ?"
    };
    pruned.rows = db.execute_raw(Statement::from_sql_and_values(backend, sql, [before.into()])).await?.rows_affected();
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn months_are_named_and_bounded_in_utc() {
        let start = month_start(at("2026-12-31T23:59:59.999+00:00"));
        assert_eq!(start, at("2026-12-01T00:00:00Z"));
        assert_eq!(next_month(start), at("2027-01-01T00:00:00Z"));
        assert_eq!(partition_name(start), "audit_trail_y2026m12");
        // Midnight of 1 January in Japan is still December in UTC.
        assert_eq!(partition_name(month_start(at("2027-01-01T00:30:00+09:00"))), "audit_trail_y2026m12");
        assert_eq!(
            create_month_sql(start),
            "CREATE TABLE IF NOT EXISTS audit_trail_y2026m12 PARTITION OF audit_trail \
             FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')"
        );
    }

    #[test]
    fn only_month_partitions_are_recognised() {
        assert_eq!(partition_month("audit_trail_y2026m02"), Some(at("2026-02-01T00:00:00Z")));
        for other in ["audit_trail_default", "audit_trail_y2026m13", "audit_trail_y26m02", "audit_trail_y2026m2x"] {
            assert_eq!(partition_month(other), None, "{other}");
        }
    }
}
