//! The S3 path against a real S3-compatible server on loopback: moto's server from PyPI,
//! installed into `<repo>/.tools/moto` and started by `scripts/moto.sh` on a free port.
//! Skipped (loudly) only when python3 is missing; CI has python3, so it runs there.

use std::process::Stdio;
use std::time::Duration;

use kaigo_documents::blob::storage::BlobStore;
use kaigo_platform::config::Secret;
use kaigo_platform::testkit::eventually;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tonic::Code;

use crate::attachments::{download, messages, metadata, small_pdf};
use crate::flow::request;
use crate::harness::*;

struct Moto {
    port: u16,
    _child: Child,
}

impl Moto {
    async fn start() -> Option<Self> {
        if std::process::Command::new("python3").arg("--version").output().is_err() {
            eprintln!(
                "\n\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! SKIPPED: python3 is not installed, so the S3 storage path was NOT tested. !!!\n\
                 !!! Install python3 (with venv) and re-run: scripts/moto.sh sets up moto.     !!!\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            return None;
        }
        let port = kaigo_platform::testkit::free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto.sh");
        let mut child = Command::new("bash")
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start scripts/moto.sh");
        // The first run installs moto from PyPI, which takes a while.
        let up = eventually(Duration::from_secs(600), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())
        })
        .await;
        if up.is_none() || child.try_wait().ok().flatten().is_some() {
            panic!("moto did not start on 127.0.0.1:{port}; see scripts/moto.sh output above");
        }
        Some(Self { port, _child: child })
    }

    /// Creates a bucket (moto accepts unsigned requests).
    async fn create_bucket(&self, bucket: &str) {
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "create bucket: {response}");
    }
}

#[tokio::test]
async fn attachments_round_trip_through_s3_compatible_storage() {
    let Some(moto) = Moto::start().await else { return };
    moto.create_bucket("kaigo-docs").await;
    let (mut config, _) = local_config(16 * 1024 * 1024);
    config.storage_url = "s3://kaigo-docs/tenant-a".into();
    config.s3_endpoint = format!("http://127.0.0.1:{}", moto.port);
    config.s3_region = "us-east-1".into();
    config.s3_access_key_id = Secret::new("testing");
    config.s3_secret_access_key = Secret::new("testing");
    config.s3_allow_http = true;
    let server = TestServer::start_with(config.clone(), None).await;
    let req = request(&server, "app-s3-1").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;

    // Larger than one 5 MiB part, so the multipart path is exercised.
    let pdf = small_pdf(7 * 1024 * 1024 + 123);
    let sha = hex::encode(Sha256::digest(&pdf));
    let a = doctor
        .upload_attachment(futures::stream::iter(messages(metadata(&req.opinion_request_id, pdf.len(), &sha), &pdf)))
        .await
        .expect("upload to S3")
        .into_inner()
        .attachment
        .unwrap();
    assert_eq!(download(&mut doctor, &a.attachment_id).await.unwrap(), pdf);

    let blobs = BlobStore::open(&config.storage_url, &config.s3()).unwrap();
    let final_key = BlobStore::final_key(&a.attachment_id);
    let stored = blobs.inner().get(&final_key).await.expect("under the final key").bytes().await.unwrap();
    assert!(blobs.inner().head(&BlobStore::pending_key(&a.attachment_id)).await.is_err(), "pending key gone");
    assert!(!stored.windows(8).any(|w| w == b"%PDF-1.7"), "stored encrypted");

    // A refused upload leaves nothing in the bucket.
    let zip = [b"PK\x03\x04".as_slice(), &[0u8; 4096]].concat();
    let err = doctor
        .upload_attachment(futures::stream::iter(messages(metadata(&req.opinion_request_id, zip.len(), ""), &zip)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Corruption in the bucket is detected.
    let mut flipped = stored.to_vec();
    let at = flipped.len() - 50;
    flipped[at] ^= 1;
    blobs.inner().put(&final_key, flipped.into()).await.unwrap();
    let err = download(&mut doctor, &a.attachment_id).await.unwrap_err();
    assert_eq!(err.code(), Code::DataLoss);

    use futures::TryStreamExt;
    let all: Vec<_> = blobs.inner().list(None).try_collect().await.unwrap();
    let keys: Vec<String> = all.iter().map(|m| m.location.to_string()).collect();
    assert_eq!(keys, [final_key.to_string()], "exactly the one committed blob");
    server.shutdown().await;
}
