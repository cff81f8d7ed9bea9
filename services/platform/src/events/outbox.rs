//! Writing events into the outbox, inside the caller's transaction.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

/// An event as a service produces it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The topic, e.g. `certification.decided`.
    pub topic: String,
    /// The aggregate the event is about (an application id …): not personal data.
    pub key: String,
    /// The protobuf-encoded event message.
    pub payload: Vec<u8>,
}

/// An event as stored, published and delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique id; consumers deduplicate on it.
    pub id: String,
    /// The topic.
    pub topic: String,
    /// The aggregate key.
    pub key: String,
    /// The protobuf-encoded event message.
    pub payload: Vec<u8>,
    /// W3C trace context of the transaction that produced it.
    pub trace: Vec<(String, String)>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// Adds `event` to the outbox through `conn`, which should be the transaction that makes the
/// change the event reports. Returns the new event's id.
pub async fn enqueue(conn: &impl ConnectionTrait, event: NewEvent) -> Result<String, DbErr> {
    let id = uuid::Uuid::now_v7().to_string();
    let trace = serde_json::to_string(&crate::telemetry::current_context_fields()).unwrap_or_else(|_| "[]".to_owned());
    let backend = conn.get_database_backend();
    let sql = if crate::db::is_postgres(conn) {
        "INSERT INTO outbox (event_id, topic, key, payload, trace, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    } else {
        "INSERT INTO outbox (event_id, topic, key, payload, trace, created_at) VALUES (?, ?, ?, ?, ?, ?)"
    };
    let values: Vec<Value> = vec![
        id.clone().into(),
        event.topic.into(),
        event.key.into(),
        event.payload.into(),
        trace.into(),
        Utc::now().into(),
    ];
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(id)
}

/// Adds `events` to the outbox through `conn` (the transaction that makes the changes they
/// report), in their order, as [`enqueue`] would one by one but in one statement on PostgreSQL
/// whatever their number: a bulk change that enqueued an event per changed row spent a round
/// trip on each (an import changing 100,000 persons, 100,000 round trips in its transactions).
/// Returns the new events' ids, in `events`' order.
pub async fn enqueue_many(conn: &impl ConnectionTrait, events: Vec<NewEvent>) -> Result<Vec<String>, DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = events.iter().map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let trace = serde_json::to_string(&crate::telemetry::current_context_fields()).unwrap_or_else(|_| "[]".to_owned());
    let now = Utc::now();
    let backend = conn.get_database_backend();
    if crate::db::is_postgres(conn) {
        let rows: Vec<OutboxRow<'_>> = events
            .iter()
            .zip(&ids)
            .map(|(event, id)| OutboxRow {
                id,
                topic: &event.topic,
                key: &event.key,
                payload: base64::engine::general_purpose::STANDARD.encode(&event.payload),
            })
            .collect();
        let json = serde_json::to_string(&rows).map_err(|e| DbErr::Custom(e.to_string()))?;
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            ENQUEUE_MANY_PG,
            [json.into(), trace.into(), now.into()],
        ))
        .await?;
        return Ok(ids);
    }
    // SQLite (`kaigo dev`): multi-row inserts, well within its limit of bound parameters.
    const COLS: usize = 6;
    for (part, part_ids) in events.chunks(500).zip(ids.chunks(500)) {
        let rows = vec!["(?, ?, ?, ?, ?, ?)"; part.len()].join(", ");
        let sql = format!("INSERT INTO outbox (event_id, topic, key, payload, trace, created_at) VALUES {rows}");
        let mut values: Vec<Value> = Vec::with_capacity(part.len() * COLS);
        for (event, id) in part.iter().zip(part_ids) {
            values.extend([
                id.clone().into(),
                event.topic.clone().into(),
                event.key.clone().into(),
                event.payload.clone().into(),
                trace.clone().into(),
                now.into(),
            ]);
        }
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    }
    Ok(ids)
}

/// One event as an element of the JSON array [`ENQUEUE_MANY_PG`] reads (the payload in base64).
#[derive(serde::Serialize)]
struct OutboxRow<'a> {
    id: &'a str,
    topic: &'a str,
    key: &'a str,
    payload: String,
}

/// Events from a JSON array (`$1`) with one trace context (`$2`) and time (`$3`), inserted in the
/// array's order so that their sequence numbers, which the relay publishes by, keep it.
const ENQUEUE_MANY_PG: &str = "INSERT INTO outbox (event_id, topic, key, payload, trace, created_at) \
     SELECT x.id, x.topic, x.key, decode(x.payload, 'base64'), $2, $3 \
     FROM ROWS FROM (json_to_recordset($1::json) AS (id text, topic text, key text, payload text)) \
     WITH ORDINALITY AS x(id, topic, key, payload, n) ORDER BY x.n";
