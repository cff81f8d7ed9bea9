//! Uploads and downloads: bounded memory at 100 MB, corruption detected on read, bad uploads
//! refused with nothing stored, and the sweeper.

use std::time::Duration;

use futures::StreamExt;
use kaigo_documents::blob::storage::BlobStore;
use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::documents::v1::download_attachment_response::Payload as Down;
use kaigo_proto::kaigo::documents::v1::upload_attachment_request::Payload as Up;
use kaigo_proto::kaigo::documents::v1::*;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::flow::request;
use crate::harness::*;

const MIB: usize = 1024 * 1024;

/// A small valid PDF.
pub fn small_pdf(len: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..len.saturating_sub(16)).map(|i| b'a' + (i % 26) as u8));
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

pub fn metadata(subject: &str, size: usize, sha: &str) -> UploadAttachmentRequest {
    UploadAttachmentRequest {
        payload: Some(Up::Metadata(UploadMetadata {
            request_id: rid(),
            purpose: AttachmentPurpose::Opinion as i32,
            subject_id: subject.to_owned(),
            file_name: "紹介状.pdf".into(),
            size_bytes: size as i64,
            sha256_hex: sha.to_owned(),
        })),
    }
}

pub fn messages(meta: UploadAttachmentRequest, bytes: &[u8]) -> Vec<UploadAttachmentRequest> {
    std::iter::once(meta)
        .chain(bytes.chunks(256 * 1024).map(|c| UploadAttachmentRequest { payload: Some(Up::Chunk(c.to_vec())) }))
        .collect()
}

/// Downloads, returning the plaintext or the error status.
pub async fn download(
    client: &mut kaigo_proto::kaigo::documents::v1::document_service_client::DocumentServiceClient<Signed>,
    id: &str,
) -> Result<Vec<u8>, tonic::Status> {
    let mut stream = client
        .download_attachment(DownloadAttachmentRequest { attachment_id: id.to_owned(), purpose: 0 })
        .await?
        .into_inner();
    let mut out = Vec::new();
    let first = stream.next().await.expect("metadata")?;
    assert!(matches!(first.payload, Some(Down::Metadata(_))));
    while let Some(message) = stream.next().await {
        match message?.payload {
            Some(Down::Chunk(c)) => out.extend_from_slice(&c),
            other => panic!("unexpected {other:?}"),
        }
    }
    Ok(out)
}

/// Peak resident set size of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).expect("kB") * 1024
}

/// Files under the storage directory (blobs, pending or final).
pub fn stored_files(dir: &std::path::Path) -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { walk(&path, out) } else { out.push(path.display().to_string()) }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

#[tokio::test]
async fn a_100_mb_upload_and_download_stream_with_bounded_memory() {
    const TOTAL: usize = 100 * MIB;
    let (config, dir) = local_config(128 * MIB as u64);
    let server = TestServer::start_with(config, Some(dir)).await;
    let req = request(&server, "app-big-1").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;

    // The body is made on the fly, 1 MiB at a time: neither side ever holds the file.
    let hasher = std::sync::Arc::new(parking_lot::Mutex::new(Sha256::new()));
    let chunks = TOTAL / MIB;
    let feed = hasher.clone();
    let body = futures::stream::iter((0..chunks).map(move |i| {
        let mut chunk = vec![b'x'; MIB];
        chunk[..8].copy_from_slice(&(i as u64).to_be_bytes());
        if i == 0 {
            chunk[..9].copy_from_slice(b"%PDF-1.7\n");
        }
        if i == chunks - 1 {
            chunk[MIB - 7..].copy_from_slice(b"\n%%EOF\n");
        }
        feed.lock().update(&chunk);
        UploadAttachmentRequest { payload: Some(Up::Chunk(chunk)) }
    }));
    let upload = futures::stream::iter([metadata(&req.opinion_request_id, TOTAL, "")]).chain(body);

    let before = peak_rss();
    let stored = doctor.upload_attachment(upload).await.expect("upload").into_inner().attachment.unwrap();
    let expected = hex::encode(hasher.lock().clone().finalize());
    assert_eq!(stored.sha256_hex, expected);
    assert_eq!(stored.size_bytes, TOTAL as i64);
    assert_eq!(stored.content_type, "application/pdf");

    let mut stream = doctor
        .download_attachment(DownloadAttachmentRequest { attachment_id: stored.attachment_id.clone(), purpose: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut check = Sha256::new();
    let mut size = 0usize;
    while let Some(message) = stream.next().await {
        if let Some(Down::Chunk(c)) = message.expect("verified chunk").payload {
            size += c.len();
            check.update(&c);
        }
    }
    let after = peak_rss();
    assert_eq!((size, hex::encode(check.finalize())), (TOTAL, expected));
    let growth = after.saturating_sub(before);
    eprintln!(
        "100 MB upload + download: peak RSS {} MiB → {} MiB (growth {} KiB)",
        before / MIB as u64,
        after / MIB as u64,
        growth / 1024
    );
    assert!(growth < 32 * MIB as u64, "peak RSS grew by {growth} bytes for a 100 MB round trip");
    server.shutdown().await;
}

#[tokio::test]
async fn corruption_of_a_stored_blob_is_detected_on_read() {
    let server = TestServer::start().await;
    let req = request(&server, "app-corrupt-1").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let pdf = small_pdf(300 * 1024);
    let sha = hex::encode(Sha256::digest(&pdf));
    let a = doctor
        .upload_attachment(futures::stream::iter(messages(metadata(&req.opinion_request_id, pdf.len(), &sha), &pdf)))
        .await
        .unwrap()
        .into_inner()
        .attachment
        .unwrap();
    assert_eq!(download(&mut doctor, &a.attachment_id).await.unwrap(), pdf);

    let dir = server.storage_dir.as_ref().unwrap().path();
    let path = dir.join("attachments").join(&a.attachment_id);
    let original = std::fs::read(&path).expect("the blob is under its final key");
    assert!(!original.windows(8).any(|w| w == b"%PDF-1.7"), "stored encrypted");

    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(&path, &flipped).unwrap();
    let err = download(&mut doctor, &a.attachment_id).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::DataLoss, "BLOB_CORRUPTED"));

    std::fs::write(&path, &original[..original.len() - 100]).unwrap();
    let err = download(&mut doctor, &a.attachment_id).await.unwrap_err();
    assert_eq!(err.code(), Code::DataLoss);

    std::fs::remove_file(&path).unwrap();
    let err = download(&mut doctor, &a.attachment_id).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::DataLoss, "BLOB_MISSING"));

    std::fs::write(&path, &original).unwrap();
    assert_eq!(download(&mut doctor, &a.attachment_id).await.unwrap(), pdf, "restored bytes verify again");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_uploads_are_refused_and_nothing_is_stored() {
    let (config, dir) = local_config(MIB as u64);
    let server = TestServer::start_with(config, Some(dir)).await;
    let req = request(&server, "app-bad-1").await;
    let subject = req.opinion_request_id.clone();
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let pdf = small_pdf(200 * 1024);
    let sha = hex::encode(Sha256::digest(&pdf));
    let mut refuse = async |messages: Vec<UploadAttachmentRequest>, field: &str| {
        let err = doctor.upload_attachment(futures::stream::iter(messages)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(violations(&err), [field], "{err:?}");
    };

    // Oversized: declared beyond the limit.
    refuse(vec![metadata(&subject, 2 * MIB, "")], "metadata.size_bytes").await;
    // More bytes than declared.
    refuse(messages(metadata(&subject, pdf.len() - 10, ""), &pdf), "metadata.size_bytes").await;
    // Truncated in transit: fewer bytes than declared.
    refuse(messages(metadata(&subject, pdf.len(), ""), &pdf[..pdf.len() / 2]), "metadata.size_bytes").await;
    // Truncated file: the declared size arrives but the PDF has no end.
    let cut = &pdf[..pdf.len() - 7];
    refuse(messages(metadata(&subject, cut.len(), ""), cut), "chunk").await;
    // Not a PDF, whatever its name.
    let zip = [b"PK\x03\x04".as_slice(), &[0u8; 5000]].concat();
    refuse(messages(metadata(&subject, zip.len(), ""), &zip), "chunk").await;
    // Corrupted in transit: the bytes do not match the stated digest.
    let mut corrupted = pdf.clone();
    corrupted[1000] ^= 1;
    refuse(messages(metadata(&subject, corrupted.len(), &sha), &corrupted), "metadata.sha256_hex").await;
    // The first message must be metadata.
    refuse(messages(metadata(&subject, pdf.len(), ""), &pdf)[1..].to_vec(), "metadata").await;

    // Someone else's request.
    let mut stranger = server.client(institution(OTHER_INSTITUTION)).await;
    let err = stranger
        .upload_attachment(futures::stream::iter(messages(metadata(&subject, pdf.len(), ""), &pdf)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    assert_eq!(server.count("attachments").await, 0);
    let dir = server.storage_dir.as_ref().unwrap().path().to_owned();
    let empty = eventually(Duration::from_secs(5), || {
        let dir = dir.clone();
        async move { stored_files(&dir).is_empty().then_some(()) }
    })
    .await;
    assert!(empty.is_some(), "orphan blobs left: {:?}", stored_files(&dir));

    // And a good one still goes through, once, however often it is retried.
    let good = metadata(&subject, pdf.len(), &sha);
    let first =
        doctor.upload_attachment(futures::stream::iter(messages(good.clone(), &pdf))).await.unwrap().into_inner();
    let retry = doctor.upload_attachment(futures::stream::iter(messages(good, &pdf))).await.unwrap().into_inner();
    assert_eq!(first, retry);
    assert_eq!(server.count("attachments").await, 1);
    assert_eq!(stored_files(&dir).len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn attachments_travel_with_a_reiwa3_opinion_and_follow_its_readers() {
    let server = TestServer::start().await;
    let req = request(&server, "app-attach-1").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let pdf = small_pdf(10_000);
    let a = doctor
        .upload_attachment(futures::stream::iter(messages(metadata(&req.opinion_request_id, pdf.len(), ""), &pdf)))
        .await
        .unwrap()
        .into_inner()
        .attachment
        .unwrap();
    let mut opinion = kaigo_documents::seed::sample_opinion(&req.opinion_request_id, crate::flow::today());
    opinion.attachment_ids = vec![a.attachment_id.clone()];
    let err = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(opinion.clone()) })
        .await
        .unwrap_err();
    assert_eq!(violations(&err), ["attachment_ids"], "the 令和8年 form has no attachments");
    opinion.form_edition = OpinionFormEdition::Reiwa3 as i32;
    opinion.basics.as_mut().unwrap().care_plan_use_consent = CarePlanUseConsent::Agree as i32;
    doctor.submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(opinion) }).await.unwrap();

    let mut city = server.client(insurer(INSURER)).await;
    assert_eq!(download(&mut city, &a.attachment_id).await.unwrap(), pdf);
    let mut office = server.client(care_office(CARE_OFFICE, &[])).await;
    let err = download(&mut office, &a.attachment_id).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "NOT_REGISTERED"));
    use kaigo_platform::access::{Category, OrganizationKind};
    server.grant(OrganizationKind::CareOffice, CARE_OFFICE, &[Category::Certification]).await;
    assert_eq!(download(&mut office, &a.attachment_id).await.unwrap(), pdf);
    let mut stranger = server.client(institution(OTHER_INSTITUTION)).await;
    assert_eq!(download(&mut stranger, &a.attachment_id).await.unwrap_err().code(), Code::PermissionDenied);
    let mut other_city = server.client(insurer(OTHER_INSURER)).await;
    let err =
        other_city.get_attachment(GetAttachmentRequest { attachment_id: a.attachment_id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    server.shutdown().await;
}

#[tokio::test]
async fn the_sweeper_removes_uncommitted_blobs_and_finishes_committed_ones() {
    let server = TestServer::start().await;
    let blobs = BlobStore::open(&server.config.storage_url, &server.config.s3()).unwrap();
    let orphan = uuid::Uuid::now_v7().to_string();
    blobs.inner().put(&BlobStore::pending_key(&orphan), b"half an upload".to_vec().into()).await.unwrap();

    // A committed upload whose move to the final key did not happen (a crash after commit).
    let req = request(&server, "app-sweep-1").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let pdf = small_pdf(5000);
    let a = doctor
        .upload_attachment(futures::stream::iter(messages(metadata(&req.opinion_request_id, pdf.len(), ""), &pdf)))
        .await
        .unwrap()
        .into_inner()
        .attachment
        .unwrap();
    blobs
        .inner()
        .rename(&BlobStore::final_key(&a.attachment_id), &BlobStore::pending_key(&a.attachment_id))
        .await
        .unwrap();
    assert_eq!(download(&mut doctor, &a.attachment_id).await.unwrap(), pdf, "reads fall back to the pending key");

    // Younger than the age limit: left alone.
    let (deleted, promoted) =
        kaigo_documents::blob::sweeper::sweep_once(server.db(), &blobs, Duration::from_secs(3600)).await.unwrap();
    assert_eq!((deleted, promoted), (0, 0));
    let (deleted, promoted) =
        kaigo_documents::blob::sweeper::sweep_once(server.db(), &blobs, Duration::ZERO).await.unwrap();
    assert_eq!((deleted, promoted), (1, 1));
    assert!(blobs.inner().head(&BlobStore::pending_key(&orphan)).await.is_err());
    assert!(blobs.inner().head(&BlobStore::final_key(&a.attachment_id)).await.is_ok());
    assert_eq!(download(&mut doctor, &a.attachment_id).await.unwrap(), pdf);
    server.shutdown().await;
}
