//! kaigo-documents: the 主治医意見書 sent electronically by medical institutions, with PDF
//! attachments encrypted in object storage.
//!
//! Shape (docs/architecture.md#service-crate): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL, `blob` encrypts and
//! stores files; the read trail goes to the platform's audit writer in the background.
//!
//! Flow: the insurer asks an institution for an opinion (RequestOpinion, 作成依頼); only that
//! institution submits (SubmitOpinion); a submission never changes, a correction is a new
//! version naming the previous one; the insurer receives it (ReceiveOpinion), which puts
//! `opinion.received` ([`OpinionReceivedEvent`](kaigo_proto::kaigo::documents::v1::OpinionReceivedEvent),
//! key = application id) into the outbox in the same transaction, for certification.
//!
//! Access (docs/domain/access.md#in-kaigo): the insurer that asked and the institution asked
//! read an opinion by the request itself; every other organisation by the registry's facts
//! (registered as the person's 担当 with a consent covering `CERTIFICATION`), decided by
//! `kaigo_platform::access::Gate` on the service's own copy of those facts, which the consumer
//! group `documents-access` keeps.
//!
//! Tests (`tests/documents/`) run a real server on 127.0.0.1:0 behind `CallerLayer`; the S3
//! path runs against moto's S3 server, which `scripts/moto.sh PORT` installs into
//! `<repo>/.tools/moto` (git-ignored) and starts on loopback. That test is skipped, with a loud
//! message, only when python3 is missing.
//!
//! Demo ids (`kaigo dev`) are fixed constants in [`seed`]: the application
//! [`seed::DEMO_APPLICATION_ID`] (seeded by certification) and the 作成依頼
//! [`seed::DEMO_OPINION_REQUEST_ID`] to institution [`seed::DEMO_INSTITUTION_CODE`] for the
//! insured person [`seed::DEMO_INSURED_NUMBER`] of insurer [`seed::DEMO_INSURER_NUMBER`].

pub mod api;
pub mod blob;
pub mod config;
pub mod domain;
pub mod seed;
pub mod store;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kaigo_platform::access::{AccessFactsMigration, Gate};
use kaigo_platform::audit::migration::{AuditIndexMigration, AuditTableMigration};
use kaigo_platform::audit::{AuditOptions, Auditor};
use kaigo_platform::config::Secret;
use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::idempotency::migration::IdempotencyTableMigration;
use kaigo_platform::service::{ServiceContext, StartError};
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::documents::v1::document_service_server::DocumentServiceServer;
use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub use crate::api::Api;
use crate::blob::crypto::Keyring;
use crate::blob::storage::BlobStore;
pub use crate::config::Config;

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "documents";

/// The storage and keys in effect: as configured, or the `kaigo dev` defaults under the data
/// directory (only when the service runs on SQLite, i.e. in `kaigo dev`).
pub async fn resolve_storage(ctx: &ServiceContext, config: &Config) -> Result<(BlobStore, Keyring), StartError> {
    let dev_dir = store::sqlite_data_dir(&ctx.db).await?;
    let url = match (&config.storage_url, &dev_dir) {
        (url, _) if !url.is_empty() => url.clone(),
        (_, Some(dir)) => format!("file://{}", dir.join("files").display()),
        (_, None) => return Err("documents.storage_url is required (file:///dir or s3://bucket/prefix)".into()),
    };
    let keys = match (&config.encryption_keys, &dev_dir) {
        (keys, _) if !keys.is_empty() => keys.clone(),
        (_, Some(dir)) => vec![dev_key(dir)?],
        (_, None) => return Err("documents.encryption_keys is required (kid:base64 of 32 bytes)".into()),
    };
    let blobs = BlobStore::open(&url, &config.s3()).map_err(|e| format!("documents.storage_url: {e}"))?;
    let keys = Keyring::parse(&keys).map_err(|e| format!("documents.encryption_keys: {e}"))?;
    Ok((blobs, keys))
}

/// The `kaigo dev` attachment key, generated once into the data directory (owner-only).
fn dev_key(dir: &Path) -> Result<Secret, StartError> {
    let path = dir.join("documents-dev.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(Secret::new(existing.trim()));
    }
    std::fs::create_dir_all(dir)?;
    let entry = Keyring::generate_entry("dev");
    std::fs::write(&path, &entry)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(Secret::new(entry))
}

/// Starts the service: the outbox relay, the audit writer, the blob sweeper, and its tonic
/// server with the configured message limits.
pub async fn start(ctx: &ServiceContext, config: &Config) -> Result<DocumentServiceServer<Api>, StartError> {
    start_with_clock(ctx, config, ctx.clock.clone()).await
}

/// [`start`] with the clock every write, deadline and audit record asks for "now" (tests and
/// rehearsals set it).
pub async fn start_with_clock(
    ctx: &ServiceContext,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<DocumentServiceServer<Api>, StartError> {
    let (blobs, keys) = resolve_storage(ctx, config).await?;
    let relay = ctx.spawn_outbox_relay();
    let auditor = Auditor::spawn(ctx.db.clone(), &ctx.background, clock.clone(), AuditOptions::default());
    blob::sweeper::spawn(
        ctx,
        blobs.clone(),
        Duration::from_secs(config.pending_max_age_minutes * 60),
        Duration::from_secs(config.sweep_interval_secs),
    );
    // The copy of the registry's facts the reads decide on; nothing is cached from it.
    kaigo_platform::access::spawn_consumer(ctx);
    let api = Api::new(api::Inner {
        db: ctx.db.clone(),
        reads: ctx.reads.clone(),
        gate: Gate::builtin(NAME, &config.access),
        blobs,
        keys,
        auditor,
        clock,
        max_attachment_bytes: config.max_attachment_bytes,
        reiwa3_accepted_until: config.reiwa3_form_accepted_until,
        relay_waker: relay.waker(),
    });
    Ok(kaigo_platform::limit_messages!(DocumentServiceServer::new(api), ctx))
}

/// Loads the demo data of `kaigo dev`: the 作成依頼 for the demo application (idempotent: a
/// second run changes nothing).
pub async fn seed_demo(ctx: &ServiceContext, _config: &Config) -> Result<(), StartError> {
    seed::seed(&ctx.db, ctx.clock.now()).await
}

/// This service's migrations, applied by `kaigo migrate documents`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(EventTablesMigration),
            Box::new(store::migration::DocumentsTablesMigration),
            Box::new(store::upload_migration::UploadSessionsMigration),
            Box::new(IdempotencyTableMigration),
            Box::new(store::kit_migration::copy_idempotency()),
            Box::new(AuditTableMigration),
            Box::new(AuditIndexMigration),
            Box::new(store::kit_migration::copy_audit()),
            Box::new(AccessFactsMigration),
            Box::new(store::payment_migration::RequestPaymentFactsMigration),
            Box::new(kaigo_platform::access::AccessIdentityLinksMigration),
            Box::new(kaigo_platform::audit::migration::AuditPartitionMigration),
        ]
    }
}
