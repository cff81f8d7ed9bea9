//! ValidateFiles through a real server: a complete unit passes; a broken bundle lists every
//! problem (file, line, column, code); callers are checked first.

use kaigo_platform::auth::Role;
use kaigo_proto::kaigo::careplan::v1::{BundleFileContent, SendUnitKind, ValidateFilesRequest};

use crate::harness::{TestServer, office, reason};

const CARE: &str = "1370000018";
const PROV: &str = "1370000026";

fn golden(dir: &str, name: &str) -> BundleFileContent {
    let path = format!("{}/tests/golden/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    BundleFileContent { file_name: name.to_owned(), content: std::fs::read(path).unwrap() }
}

fn usage_unit() -> Vec<BundleFileContent> {
    let tail = format!("{CARE}_43_{PROV}_11_20250425103100.CSV");
    vec![
        golden("valid", &format!("UPPLAN_202505_{tail}")),
        golden("valid", &format!("UPSIKYU_202505_{tail}")),
        golden("valid", &format!("UPHOSOKU_202505_{tail}")),
    ]
}

#[tokio::test]
async fn validate_files_lists_every_problem_of_a_bundle() {
    let server = TestServer::start().await;
    let mut client = server.client(Some(office(Role::CareOffice, CARE))).await;

    let ok = client
        .validate_files(ValidateFilesRequest { files: usage_unit(), kind: SendUnitKind::UsageTicket as i32 })
        .await
        .unwrap()
        .into_inner();
    assert!(ok.valid, "{:#?}", ok.issues);
    assert_eq!(ok.files.len(), 3);
    assert_eq!(ok.files[0].csv_version, "202407");
    assert_eq!(ok.files[0].record_count, 4);

    // A broken 第6表 and no 第7表: every problem, each with its place and code.
    let mut files = usage_unit();
    files.remove(1);
    files[0] = golden("invalid/column-count", &files[0].file_name.clone());
    let bad = client
        .validate_files(ValidateFilesRequest { files, kind: SendUnitKind::UsageTicket as i32 })
        .await
        .unwrap()
        .into_inner();
    assert!(!bad.valid);
    let found: Vec<_> = bad.issues.iter().map(|i| (i.line, i.column, i.code.as_str())).collect();
    assert_eq!(found, vec![(2, 0, "COLUMN_COUNT"), (0, 0, "MISSING_REQUIRED_FILE")]);
    assert!(!bad.files[0].valid && bad.files[1].valid);
    server.shutdown().await;
}

#[tokio::test]
async fn validate_files_checks_the_caller_and_the_request() {
    let server = TestServer::start().await;
    let mut anonymous = server.client(None).await;
    let err = anonymous.validate_files(ValidateFilesRequest { files: usage_unit(), kind: 0 }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    let mut person = server.client(Some(office(Role::InsuredPerson, CARE))).await;
    let err = person.validate_files(ValidateFilesRequest { files: usage_unit(), kind: 0 }).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::PermissionDenied, "ROLE_NOT_ALLOWED"));

    let mut client = server.client(Some(office(Role::ServiceProvider, PROV))).await;
    let err = client.validate_files(ValidateFilesRequest { files: vec![], kind: 99 }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    server.shutdown().await;
}
