//! Trimming the event tables: published `outbox` rows and the consumers' `processed_events`
//! keys, by age. When a row may go is decided by [`crate::retention`]; this module deletes.
//!
//! Neither table has an index on its instants, and neither needs one: event ids are UUIDv7
//! ([`super::enqueue`]), whose text sorts by the millisecond they were made in. Each delete
//! reads the index that already exists on the id (`outbox`'s unique `event_id`,
//! `processed_events`' primary key `(consumer_group, event_id)`) from its start up to the id
//! bound of the boundary instant, and tests the instant itself on those rows only. An event is
//! made before it is published and handled, so the id bound never hides a row the instant
//! would trim for long: rows whose id is older than their instant (a long-unpublished event)
//! are read again by the next passes until their instant passes too. Ids that are not UUIDv7
//! (none is written by kaigo) only narrow what goes, never widen it.
//!
//! Deletes go in batches of [`BATCH`] rows, each its own statement, so a pass after a large
//! import holds no long transaction; at most [`BATCHES`] per pass, the next pass goes on. On
//! PostgreSQL a batch's rows are named as an array (`= ANY (ARRAY(…))`), which the planner
//! looks up by primary key, where `IN (…)` may hash-join against a scan of the whole table.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

/// Rows one delete statement removes at most.
pub const BATCH: u64 = 10_000;

/// Delete statements per table (and group) and pass at most: ten million rows.
pub const BATCHES: u32 = 1_000;

/// The lowest UUIDv7 text of the millisecond `at` (the 48-bit Unix milliseconds are its first
/// twelve hex digits): every id made before `at` sorts below it, every id made in or after it
/// sorts at or above it.
pub fn id_bound(at: DateTime<Utc>) -> String {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0).min((1 << 48) - 1);
    format!("{:08x}-{:04x}-0000-0000-000000000000", ms >> 16, ms & 0xffff)
}

/// Deletes outbox rows published before `before`. Unpublished rows (`published_at` NULL) are
/// never deleted, however old. Returns how many went.
pub async fn trim_outbox(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let sql = if crate::db::is_postgres(conn) {
        "DELETE FROM outbox WHERE seq = ANY (ARRAY(SELECT seq FROM outbox \
         WHERE event_id < $1 AND published_at < $2 LIMIT $3))"
    } else {
        "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox \
         WHERE event_id < ? AND published_at < ? LIMIT ?)"
    };
    batches(conn, sql, || vec![id_bound(before).into(), before.into(), batch_limit()]).await
}

/// Deletes `group`'s keys of events handled before `before`. Returns how many went. The
/// caller decides `before` so that no delivery of those events to the group can still come
/// ([`crate::retention::trim_handled`]).
pub async fn trim_processed(conn: &impl ConnectionTrait, group: &str, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let sql = if crate::db::is_postgres(conn) {
        "DELETE FROM processed_events WHERE consumer_group = $1 AND event_id = ANY (ARRAY(SELECT event_id \
         FROM processed_events WHERE consumer_group = $1 AND event_id < $2 AND processed_at < $3 LIMIT $4))"
    } else {
        "DELETE FROM processed_events WHERE consumer_group = ? AND event_id IN (SELECT event_id \
         FROM processed_events WHERE consumer_group = ? AND event_id < ? AND processed_at < ? LIMIT ?)"
    };
    let postgres = crate::db::is_postgres(conn);
    batches(conn, sql, || {
        let mut values = vec![group.to_owned().into()];
        if !postgres {
            values.push(group.to_owned().into());
        }
        values.extend([id_bound(before).into(), before.into(), batch_limit()]);
        values
    })
    .await
}

fn batch_limit() -> Value {
    i64::try_from(BATCH).unwrap_or(i64::MAX).into()
}

/// Runs `sql` until it removes fewer than a batch (or [`BATCHES`] times).
async fn batches(conn: &impl ConnectionTrait, sql: &str, values: impl Fn() -> Vec<Value>) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    let mut removed = 0;
    for _ in 0..BATCHES {
        let step = conn.execute_raw(Statement::from_sql_and_values(backend, sql, values())).await?.rows_affected();
        removed += step;
        if step < BATCH {
            break;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_bound_sorts_between_the_ids_before_and_after_its_millisecond() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T02:00:00.500Z").unwrap().to_utc();
        let ms = |t: DateTime<Utc>| {
            uuid::Timestamp::from_unix(uuid::NoContext, t.timestamp() as u64, t.timestamp_subsec_nanos())
        };
        let id = |t: DateTime<Utc>| uuid::Uuid::new_v7(ms(t)).to_string();
        let bound = id_bound(at);
        assert_eq!(bound.len(), 36);
        assert!(id(at - chrono::Duration::milliseconds(1)) < bound);
        assert!(id(at - chrono::Duration::days(400)) < bound);
        assert!(id(at) >= bound);
        assert!(id(at + chrono::Duration::milliseconds(1)) > bound);
        assert_eq!(&id(at)[..13], &bound[..13], "the same millisecond, the same first twelve digits");
        assert_eq!(id_bound(DateTime::<Utc>::UNIX_EPOCH), "00000000-0000-0000-0000-000000000000");
    }
}
