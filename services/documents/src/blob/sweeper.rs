//! Removes pending blobs whose upload never committed, and finishes moving those that did;
//! removes unary upload sessions left idle, with their parts.

use std::time::Duration;

use kaigo_platform::service::ServiceContext;
use sea_orm::DatabaseConnection;

use super::storage::BlobStore;
use crate::store;

/// One pass; returns (deleted, promoted).
pub async fn sweep_once(db: &DatabaseConnection, blobs: &BlobStore, age: Duration) -> Result<(usize, usize), String> {
    let stale = blobs.stale_pending(age).await.map_err(|e| e.to_string())?;
    let (mut deleted, mut promoted) = (0, 0);
    for id in stale {
        match store::get_attachment(db, &id).await {
            Ok(Some(_)) => {
                blobs.promote(&id).await.map_err(|e| e.to_string())?;
                promoted += 1;
            }
            Ok(None) => {
                blobs.delete_pending(&id).await.map_err(|e| e.to_string())?;
                deleted += 1;
            }
            Err(err) => return Err(err.to_string()),
        }
    }
    // Unary upload sessions idle for as long: their parts, then their row.
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
    for id in store::uploads::idle_since(db, cutoff).await.map_err(|e| e.to_string())? {
        blobs.delete_parts(&id).await.map_err(|e| e.to_string())?;
        store::uploads::delete(db, &id).await.map_err(|e| e.to_string())?;
        deleted += 1;
    }
    Ok((deleted, promoted))
}

/// Runs [`sweep_once`] every `interval` until shutdown.
pub fn spawn(ctx: &ServiceContext, blobs: BlobStore, age: Duration, interval: Duration) {
    let db = ctx.db.clone();
    ctx.background.spawn("attachment-sweeper", move |stopping| async move {
        let stop = stopping.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(interval) => {}
            }
            match sweep_once(&db, &blobs, age).await {
                Ok((0, 0)) => {}
                Ok((deleted, promoted)) => tracing::info!(deleted, promoted, "swept pending attachment blobs"),
                Err(err) => tracing::warn!(error = %err, "attachment sweep failed; retrying next interval"),
            }
        }
    });
}
