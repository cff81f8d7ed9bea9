//! Writing events into the outbox, inside the caller's transaction.

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
