//! Licence RPCs through a real server: a paid year registers the office, a stale version is
//! ABORTED, a retry returns the first answer, the free pass is once per office and only in the
//! campaign window.

use kaigo_platform::auth::Role;
use kaigo_proto::kaigo::careplan::v1::{
    ApplyFreePassRequest, FreePassCategory, GetLicenceRequest, LicencePeriodKind, LicenceStatus, OfficeRole,
    RegisterLicenceRequest,
};

use crate::exchange::{CARE, PROV, rid};
use crate::harness::{TestServer, office, reason};

fn date(year: i32, month: i32, day: i32) -> Option<kaigo_proto::google::r#type::Date> {
    Some(kaigo_proto::google::r#type::Date { year, month, day })
}

#[tokio::test]
async fn licences_are_versioned_idempotent_and_the_free_pass_is_once() {
    let server = TestServer::start().await;
    let mut operator = server.client(Some(kaigo_platform::testkit::caller(Role::Operator))).await;

    // An operator must say which side a new office is on.
    let err = operator
        .register_licence(RegisterLicenceRequest {
            request_id: rid(),
            office_number: PROV.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let request = RegisterLicenceRequest {
        request_id: rid(),
        office_number: PROV.to_owned(),
        start_date: date(2025, 4, 1),
        payment_reference: "INV-1".to_owned(),
        expected_version: 0,
        office_role: OfficeRole::Provider as i32,
        office_name: "訪問介護".to_owned(),
        service_types: vec![],
    };
    let first = operator.register_licence(request.clone()).await.unwrap().into_inner().licence.unwrap();
    assert_eq!((first.version, first.periods.len(), first.periods[0].fee_yen), (1, 1, 21000));
    assert_eq!(first.expiry_date, date(2026, 3, 31));
    // A retry answers the same; a stale version is refused.
    let again = operator.register_licence(request.clone()).await.unwrap().into_inner().licence.unwrap();
    assert_eq!(again, first);
    let stale = RegisterLicenceRequest { request_id: rid(), ..request.clone() };
    let err = operator.register_licence(stale).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::Aborted, "VERSION_MISMATCH"));
    // The same request_id with another body is refused.
    let reused = RegisterLicenceRequest { expected_version: 1, ..request.clone() };
    let err = operator.register_licence(reused).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::AlreadyExists, "REQUEST_ID_REUSED"));

    // An April 2025 renewer applying in the window: free at the 2026 renewal, once.
    let pass = operator
        .apply_free_pass(ApplyFreePassRequest {
            request_id: rid(),
            office_number: PROV.to_owned(),
            application_date: date(2025, 6, 1),
            expected_version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pass.category, FreePassCategory::Spring2025Renewer as i32);
    let period = pass.free_period.unwrap();
    assert_eq!((period.start, period.end), (date(2026, 4, 1), date(2027, 3, 31)));
    let licence = pass.licence.unwrap();
    assert!(licence.free_pass_used);
    assert_eq!(licence.periods[1].kind, LicencePeriodKind::FreePass as i32);
    let err = operator
        .apply_free_pass(ApplyFreePassRequest {
            request_id: rid(),
            office_number: PROV.to_owned(),
            application_date: date(2025, 7, 1),
            expected_version: 2,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::FailedPrecondition, "FREE_PASS_ALREADY_USED"));
    let err = operator
        .apply_free_pass(ApplyFreePassRequest {
            request_id: rid(),
            office_number: CARE.to_owned(),
            application_date: date(2026, 6, 1),
            office_role: OfficeRole::CareOffice as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::FailedPrecondition, "FREE_PASS_WINDOW"));

    // An office manages its own licence only.
    let mut care = server.client(Some(office(Role::CareOffice, CARE))).await;
    let err = care
        .register_licence(RegisterLicenceRequest {
            request_id: rid(),
            office_number: PROV.to_owned(),
            expected_version: 2,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let own = care.get_licence(GetLicenceRequest::default()).await.unwrap().into_inner().licence.unwrap();
    assert_eq!((own.status, own.version), (LicenceStatus::None as i32, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn a_licence_expires_at_midnight_in_tokyo_by_the_services_clock() {
    use chrono::TimeZone;
    // 23:59 on 31 March 2026 in Tokyo.
    let clock = kaigo_platform::time::SetClock::new(chrono::Utc.with_ymd_and_hms(2026, 3, 31, 14, 59, 0).unwrap());
    let db = kaigo_platform::testkit::TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), kaigo_careplan::NAME).await.unwrap();
    let server = TestServer::start_with_clock(conn, Some(db), std::sync::Arc::new(clock.clone())).await;
    let mut care = server.client(Some(office(Role::CareOffice, CARE))).await;
    let paid = RegisterLicenceRequest {
        request_id: rid(),
        office_number: CARE.to_owned(),
        start_date: date(2025, 4, 1),
        ..Default::default()
    };
    let licence = care.register_licence(paid).await.unwrap().into_inner().licence.unwrap();
    assert_eq!((licence.status, licence.expiry_date), (LicenceStatus::Active as i32, date(2026, 3, 31)));
    // 15:00 UTC is 1 April in Tokyo: the paid year is over.
    clock.set(chrono::Utc.with_ymd_and_hms(2026, 3, 31, 15, 0, 0).unwrap());
    let licence = care.get_licence(GetLicenceRequest::default()).await.unwrap().into_inner().licence.unwrap();
    assert_eq!(licence.status, LicenceStatus::Expired as i32);
    server.shutdown().await;
}
