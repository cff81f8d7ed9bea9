//! Where encrypted blobs live: a local directory (`file:///dir`, `kaigo dev` and tests) or
//! S3-compatible storage (`s3://bucket/prefix`), through the object_store crate.
//!
//! No orphans: an upload is written under `pending/<id>` and only renamed to
//! `attachments/<id>` after its metadata row committed. A failed upload deletes its pending
//! object (a drop guard covers clients that vanish mid-stream); the sweeper deletes pending
//! objects older than the configured age that have no metadata row, and finishes the rename
//! of those that do (a crash between commit and rename). Reads fall back to the pending key
//! for the same reason. On S3, configure the bucket's `AbortIncompleteMultipartUpload`
//! lifecycle rule for parts of uploads that never completed (they are not objects, so no
//! listing sees them).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

/// S3 settings beyond the URL; empty fields fall back to the usual `AWS_*` environment.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint of an S3-compatible service (`http://127.0.0.1:9000`).
    pub endpoint: String,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Allow plain HTTP (loopback test servers).
    pub allow_http: bool,
}

/// The object store holding the attachments.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Multipart part size: S3 needs ≥ 5 MiB parts; a directory takes smaller ones.
    part_size: usize,
}

const PENDING: &str = "pending";
const FINAL: &str = "attachments";
/// Parts of unary uploads: `uploads/<upload id>/<offset, 20 digits>`.
const PARTS: &str = "uploads";
/// Parts in flight per upload (memory: `part_size` × this).
const PARTS_IN_FLIGHT: usize = 2;

impl BlobStore {
    /// Opens `url`: `file:///absolute/dir` or `s3://bucket[/prefix]`.
    pub fn open(url: &str, s3: &S3Options) -> Result<Self, String> {
        if let Some(dir) = url.strip_prefix("file://") {
            if !dir.starts_with('/') {
                return Err("file:// URLs need an absolute path (file:///dir)".to_owned());
            }
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the storage directory: {e}"))?;
            let local = LocalFileSystem::new_with_prefix(dir).map_err(|e| format!("storage directory: {e}"))?;
            return Ok(Self { store: Arc::new(local), part_size: 1024 * 1024 });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("s3:// URLs name a bucket (s3://bucket/prefix)".to_owned());
            }
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if !s3.endpoint.is_empty() {
                builder = builder.with_endpoint(&s3.endpoint);
            }
            if !s3.region.is_empty() {
                builder = builder.with_region(&s3.region);
            }
            if !s3.access_key_id.is_empty() {
                builder = builder.with_access_key_id(&s3.access_key_id);
            }
            if !s3.secret_access_key.is_empty() {
                builder = builder.with_secret_access_key(&s3.secret_access_key);
            }
            if s3.allow_http {
                builder = builder.with_allow_http(true);
            }
            let s3store = builder.build().map_err(|e| format!("S3 storage: {e}"))?;
            let prefix = prefix.trim_matches('/');
            let store: Arc<dyn ObjectStore> =
                if prefix.is_empty() { Arc::new(s3store) } else { Arc::new(PrefixStore::new(s3store, prefix)) };
            return Ok(Self { store, part_size: 5 * 1024 * 1024 });
        }
        Err("expected file:///dir or s3://bucket/prefix".to_owned())
    }

    /// The store itself (tests reach in to corrupt a blob).
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Where an upload is written before its metadata commits.
    pub fn pending_key(id: &str) -> Path {
        Path::from(format!("{PENDING}/{id}"))
    }

    /// Where a committed blob lives.
    pub fn final_key(id: &str) -> Path {
        Path::from(format!("{FINAL}/{id}"))
    }

    /// Starts writing blob `id` under its pending key.
    pub async fn writer(&self, id: &str) -> object_store::Result<BlobWriter> {
        let upload = self.store.put_multipart(&Self::pending_key(id)).await?;
        Ok(BlobWriter { upload: WriteMultipart::new_with_chunk_size(upload, self.part_size) })
    }

    /// Moves a committed blob from its pending key to its final key.
    pub async fn promote(&self, id: &str) -> object_store::Result<()> {
        self.store.rename(&Self::pending_key(id), &Self::final_key(id)).await
    }

    /// Deletes a pending blob (a missing one is fine).
    pub async fn delete_pending(&self, id: &str) -> object_store::Result<()> {
        match self.store.delete(&Self::pending_key(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Streams the stored (encrypted) bytes of blob `id`; `None` when neither key exists.
    pub async fn read(
        &self,
        id: &str,
    ) -> object_store::Result<Option<BoxStream<'static, object_store::Result<Bytes>>>> {
        for key in [Self::final_key(id), Self::pending_key(id)] {
            match self.store.get(&key).await {
                Ok(result) => return Ok(Some(result.into_stream())),
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Where the part starting at `offset` of upload session `upload_id` lives.
    pub fn part_key(upload_id: &str, offset: u64) -> Path {
        Path::from(format!("{PARTS}/{upload_id}/{offset:020}"))
    }

    /// Stores one (encrypted, at most ~1 MiB) part of an upload session.
    pub async fn put_part(&self, upload_id: &str, offset: u64, bytes: Bytes) -> object_store::Result<()> {
        self.store.put(&Self::part_key(upload_id, offset), bytes.into()).await.map(|_| ())
    }

    /// Reads one part; `None` when it is missing.
    pub async fn read_part(&self, upload_id: &str, offset: u64) -> object_store::Result<Option<Bytes>> {
        match self.store.get(&Self::part_key(upload_id, offset)).await {
            Ok(result) => result.bytes().await.map(Some),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes every part of an upload session.
    pub async fn delete_parts(&self, upload_id: &str) -> object_store::Result<()> {
        let prefix = Path::from(format!("{PARTS}/{upload_id}"));
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        for meta in metas {
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Lists pending blobs older than `age`, by id.
    pub async fn stale_pending(&self, age: Duration) -> object_store::Result<Vec<String>> {
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let prefix = Path::from(PENDING);
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter(|m| m.last_modified < cutoff)
            .filter_map(|m| m.location.filename().map(str::to_owned))
            .collect())
    }
}

/// An upload in progress. Dropping it unfinished abandons the multipart upload.
pub struct BlobWriter {
    upload: WriteMultipart,
}

impl BlobWriter {
    /// Appends bytes, waiting while too many parts are in flight (backpressure keeps memory
    /// bounded whatever the client's pace).
    pub async fn write(&mut self, bytes: Bytes) -> object_store::Result<()> {
        self.upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.upload.put(bytes);
        Ok(())
    }

    /// Completes the object.
    pub async fn finish(self) -> object_store::Result<()> {
        self.upload.finish().await.map(|_| ())
    }

    /// Abandons the upload.
    pub async fn abort(self) {
        let _ = self.upload.abort().await;
    }
}

/// Deletes a pending blob when dropped armed: covers every early return and a client that
/// disconnects mid-upload (tonic drops the handler's future then).
pub struct PendingGuard {
    store: BlobStore,
    id: String,
    armed: bool,
}

impl PendingGuard {
    /// Guards blob `id`.
    pub fn new(store: BlobStore, id: String) -> Self {
        Self { store, id, armed: true }
    }

    /// The blob is committed: keep it.
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let store = self.store.clone();
        let id = std::mem::take(&mut self.id);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(err) = store.delete_pending(&id).await {
                    // The sweeper removes it later.
                    tracing::warn!(error = %err, "could not delete an abandoned upload");
                }
            });
        }
    }
}
