//! How long the platform's own records are kept: idempotency records (a retry later than this
//! is a new request) and the read audit trail (kept for the operator's legal retention, or
//! forever). One background task per service process trims both, every `interval_secs`; with
//! several replicas each trims, and the deletes are idempotent.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Problems, Validate};
use crate::service::ServiceContext;

/// `[retention]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days an idempotency record (a write's stored answer) is kept. Callers retry within
    /// minutes; batch systems re-send a failed night's work within days.
    pub idempotency_days: u32,
    /// Days a read audit record is kept; 0 keeps every record (the default: the operator
    /// sets the period its records policy requires).
    pub audit_days: u32,
    /// Seconds between trims.
    pub interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { idempotency_days: 7, audit_days: 0, interval_secs: 3600 }
    }
}

impl Validate for RetentionConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.idempotency_days == 0 {
            problems.add("retention.idempotency_days", "must be at least 1 (a retry needs its stored answer)");
        }
        if self.interval_secs == 0 {
            problems.add("retention.interval_secs", "must be at least 1");
        }
    }
}

/// Starts the trimming task of `ctx`'s service.
pub fn spawn(ctx: &ServiceContext, config: &RetentionConfig) {
    let db = ctx.db.clone();
    let config = config.clone();
    let service = ctx.name;
    ctx.background.spawn("retention", move |stopping| async move {
        let interval = Duration::from_secs(config.interval_secs);
        loop {
            trim(&db, &config, service).await;
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stopping.clone().wait() => return,
            }
        }
    });
}

/// One pass; failures are logged and retried at the next pass.
pub async fn trim(db: &sea_orm::DatabaseConnection, config: &RetentionConfig, service: &str) {
    let now = chrono::Utc::now();
    let days = |n: u32| chrono::Duration::days(i64::from(n));
    match crate::idempotency::prune(db, now - days(config.idempotency_days)).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(service, removed, "idempotency records past retention removed"),
        Err(err) => tracing::warn!(service, error = %err, "idempotency retention failed; retrying later"),
    }
    if config.audit_days > 0 {
        match crate::audit::prune(db, now - days(config.audit_days)).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(service, removed, "audit records past retention removed"),
            Err(err) => tracing::warn!(service, error = %err, "audit retention failed; retrying later"),
        }
    }
}
