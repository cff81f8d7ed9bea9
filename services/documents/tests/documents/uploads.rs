//! The unary upload (Start / Append / Finish) that browsers on gRPC-Web use: same checks,
//! same stored result as the streaming upload; retries harmless, gaps and strangers refused.

use std::time::Duration;

use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::documents::v1::*;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::attachments::{download, small_pdf, stored_files};
use crate::flow::request;
use crate::harness::*;

fn meta(subject: &str, pdf: &[u8], sha: &str) -> StartAttachmentUploadRequest {
    StartAttachmentUploadRequest {
        metadata: Some(UploadMetadata {
            request_id: rid(),
            purpose: AttachmentPurpose::Opinion as i32,
            subject_id: subject.to_owned(),
            file_name: "紹介状.pdf".into(),
            size_bytes: pdf.len() as i64,
            sha256_hex: sha.to_owned(),
        }),
    }
}

fn append(upload_id: &str, offset: usize, chunk: &[u8]) -> AppendAttachmentChunkRequest {
    AppendAttachmentChunkRequest { upload_id: upload_id.to_owned(), offset: offset as i64, chunk: chunk.to_vec() }
}

fn finish(upload_id: &str) -> FinishAttachmentUploadRequest {
    FinishAttachmentUploadRequest { upload_id: upload_id.to_owned() }
}

#[tokio::test]
async fn a_pdf_in_three_unary_chunks_downloads_byte_identical_and_retries_are_harmless() {
    let server = TestServer::start().await;
    let req = request(&server, "app-unary-1").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let pdf = small_pdf(300 * 1024 + 123);
    let sha = hex::encode(Sha256::digest(&pdf));
    let start = meta(&req.opinion_request_id, &pdf, &sha);
    let session = doctor.start_attachment_upload(start.clone()).await.unwrap().into_inner();
    assert_eq!(session.received_bytes, 0);

    let third = pdf.len() / 3;
    let parts = [&pdf[..third], &pdf[third..2 * third], &pdf[2 * third..]];
    let mut offset = 0;
    for (i, part) in parts.iter().enumerate() {
        let ack = doctor.append_attachment_chunk(append(&session.upload_id, offset, part)).await.unwrap().into_inner();
        assert_eq!(ack.received_bytes, (offset + part.len()) as i64);
        if i == 0 {
            // The response was lost, the client sends it again: acknowledged, nothing doubled.
            let again =
                doctor.append_attachment_chunk(append(&session.upload_id, offset, part)).await.unwrap().into_inner();
            assert_eq!(again.received_bytes, part.len() as i64);
            // A retried Start resumes the same session where it stands.
            let resumed = doctor.start_attachment_upload(start.clone()).await.unwrap().into_inner();
            assert_eq!(
                (resumed.upload_id.as_str(), resumed.received_bytes),
                (session.upload_id.as_str(), ack.received_bytes)
            );
        }
        offset += part.len();
    }

    let stored = doctor.finish_attachment_upload(finish(&session.upload_id)).await.unwrap().into_inner();
    let stored = stored.attachment.unwrap();
    assert_eq!((stored.size_bytes, stored.sha256_hex.as_str()), (pdf.len() as i64, sha.as_str()));
    assert_eq!(stored.content_type, "application/pdf");
    assert_eq!(download(&mut doctor, &stored.attachment_id).await.unwrap(), pdf);
    // A retried Finish returns the same attachment, stored once.
    let again = doctor.finish_attachment_upload(finish(&session.upload_id)).await.unwrap().into_inner();
    assert_eq!(again.attachment.unwrap(), stored);
    assert_eq!(server.count("attachments").await, 1);
    // Same layout as the streaming path: one encrypted blob under attachments/, no parts left.
    let dir = server.storage_dir.as_ref().unwrap().path().to_owned();
    let files = stored_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(&format!("attachments/{}", stored.attachment_id)), "{files:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn gaps_wrong_digests_and_strangers_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let req = request(&server, "app-unary-2").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let mut stranger = server.client(institution(OTHER_INSTITUTION)).await;
    let pdf = small_pdf(200 * 1024);
    let wrong = hex::encode(Sha256::digest(b"another file"));
    let session =
        doctor.start_attachment_upload(meta(&req.opinion_request_id, &pdf, &wrong)).await.unwrap().into_inner();
    let id = session.upload_id.as_str();

    // Out of order: the second chunk first.
    let err = doctor.append_attachment_chunk(append(id, 1000, &pdf[1000..2000])).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_eq!(reason(&err), "UPLOAD_OFFSET_MISMATCH");
    assert!(err.message().contains("expected offset 0"), "{err:?}");

    let half = pdf.len() / 2;
    doctor.append_attachment_chunk(append(id, 0, &pdf[..half])).await.unwrap();
    // Another institution cannot write into this session, nor finish it.
    let err = stranger.append_attachment_chunk(append(id, half, &pdf[half..])).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = stranger.finish_attachment_upload(finish(id)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Nor start one on a request it was not asked for.
    let err = stranger.start_attachment_upload(meta(&req.opinion_request_id, &pdf, "")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // Finishing early is refused, and says how far it got.
    let err = doctor.finish_attachment_upload(finish(id)).await.unwrap_err();
    assert_eq!((err.code(), reason(&err)), (Code::FailedPrecondition, "UPLOAD_INCOMPLETE".to_owned()), "{err:?}");
    // A gap after the first chunk.
    let err = doctor.append_attachment_chunk(append(id, half + 1, &pdf[half + 1..])).await.unwrap_err();
    assert!(err.message().contains(&format!("expected offset {half}")), "{err:?}");

    doctor.append_attachment_chunk(append(id, half, &pdf[half..])).await.unwrap();
    // The digest does not match: refused, and the session is gone with its parts.
    let err = doctor.finish_attachment_upload(finish(id)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(violations(&err), ["metadata.sha256_hex"], "{err:?}");
    let err = doctor.append_attachment_chunk(append(id, 0, &pdf[..10])).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    assert_eq!(server.count("attachments").await, 0);
    assert_eq!(server.count("upload_sessions").await, 0);
    let dir = server.storage_dir.as_ref().unwrap().path().to_owned();
    let empty = eventually(Duration::from_secs(5), || {
        let dir = dir.clone();
        async move { stored_files(&dir).is_empty().then_some(()) }
    })
    .await;
    assert!(empty.is_some(), "left behind: {:?}", stored_files(&dir));
    server.shutdown().await;
}

#[tokio::test]
async fn the_sweeper_removes_abandoned_sessions_with_their_parts() {
    let server = TestServer::start().await;
    let req = request(&server, "app-unary-3").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let pdf = small_pdf(100 * 1024);
    let session = doctor.start_attachment_upload(meta(&req.opinion_request_id, &pdf, "")).await.unwrap().into_inner();
    doctor.append_attachment_chunk(append(&session.upload_id, 0, &pdf[..5000])).await.unwrap();
    let dir = server.storage_dir.as_ref().unwrap().path().to_owned();
    assert_eq!(stored_files(&dir).len(), 1);
    let blobs =
        kaigo_documents::blob::storage::BlobStore::open(&server.config.storage_url, &server.config.s3()).unwrap();
    // Not yet idle long enough: kept.
    kaigo_documents::blob::sweeper::sweep_once(server.db(), &blobs, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(server.count("upload_sessions").await, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    kaigo_documents::blob::sweeper::sweep_once(server.db(), &blobs, Duration::ZERO).await.unwrap();
    assert_eq!(server.count("upload_sessions").await, 0);
    assert!(stored_files(&dir).is_empty(), "{:?}", stored_files(&dir));
    let err = doctor.append_attachment_chunk(append(&session.upload_id, 5000, &pdf[5000..])).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    server.shutdown().await;
}
