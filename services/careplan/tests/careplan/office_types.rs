//! One office number on both sides of the exchange (issue 17 item 2): an office registers the
//! service types it runs and sends and receives under each, as the v4 file names say.

use kaigo_platform::auth::Role;
use kaigo_proto::kaigo::careplan::v1::{
    Bundle, GetLicenceRequest, RegisterLicenceRequest, SendBundleRequest, SendUnitKind,
};
use kaigo_proto::kaigo::common::v1::YearMonth;
use tonic_types::StatusExt;

use crate::exchange::{CARE, OTHER, PROV, golden, rid, usage_files};
use crate::harness::{TestServer, office, reason};

/// Registers `number` as `role` with `types` (a paid year from today).
async fn register(server: &TestServer, role: Role, number: &str, types: &[&str]) -> crate::exchange::Client {
    let mut client = server.client(Some(office(role, number))).await;
    let licence = client
        .register_licence(RegisterLicenceRequest {
            request_id: rid(),
            office_number: number.to_owned(),
            service_types: types.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .licence
        .unwrap();
    let mut sorted: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
    sorted.sort();
    sorted.dedup();
    assert_eq!(licence.service_types, sorted);
    client
}

/// A unit of `kind` from `from` (office, type) to `to`, its golden files renamed accordingly.
fn unit(kind: SendUnitKind, from: (&str, &str), to: (&str, &str)) -> SendBundleRequest {
    let (files, seq, golden_from, golden_to) = match kind {
        SendUnitKind::UsageTicket => (usage_files(), "20250425103100", (CARE, "43"), (PROV, "11")),
        _ => (
            vec![golden("valid", "UPJSK_202505_1370000026_11_1370000018_43_20250601090000.CSV")],
            "20250601090000",
            (PROV, "11"),
            (CARE, "43"),
        ),
    };
    let old = format!("_{}_{}_{}_{}_", golden_from.0, golden_from.1, golden_to.0, golden_to.1);
    let new = format!("_{}_{}_{}_{}_", from.0, from.1, to.0, to.1);
    let files = files
        .into_iter()
        .map(|mut f| {
            f.file_name = f.file_name.replace(&old, &new);
            f
        })
        .collect();
    SendBundleRequest {
        request_id: rid(),
        bundle: Some(Bundle {
            sender_office_number: from.0.to_owned(),
            sender_service_type: from.1.to_owned(),
            receiver_office_number: to.0.to_owned(),
            receiver_service_type: to.1.to_owned(),
            service_month: Some(YearMonth { year: 2025, month: 5 }),
            kind: kind as i32,
            file_sequence: seq.to_owned(),
            ..Bundle::default()
        }),
        files,
    }
}

#[tokio::test]
async fn one_office_number_sends_and_receives_under_each_type_it_registered() {
    let server = TestServer::start().await;
    // CARE runs 居宅介護支援 (43) and 訪問介護 (11); PROV only 訪問介護; OTHER only 居宅介護支援.
    let mut both = register(&server, Role::CareOffice, CARE, &["43", "11", "43"]).await;
    let mut provider = register(&server, Role::ServiceProvider, PROV, &["11"]).await;
    let mut care_only = register(&server, Role::CareOffice, OTHER, &["43"]).await;

    // As a care office (43) CARE sends a usage ticket to PROV's 訪問介護 …
    both.send_bundle(unit(SendUnitKind::UsageTicket, (CARE, "43"), (PROV, "11"))).await.unwrap();
    // … and as a provider (11) it sends 実績 to OTHER and receives a usage ticket from OTHER.
    both.send_bundle(unit(SendUnitKind::Actuals, (CARE, "11"), (OTHER, "43"))).await.unwrap();
    care_only.send_bundle(unit(SendUnitKind::UsageTicket, (OTHER, "43"), (CARE, "11"))).await.unwrap();
    // PROV's 実績 reach CARE's care-office side.
    provider.send_bundle(unit(SendUnitKind::Actuals, (PROV, "11"), (CARE, "43"))).await.unwrap();

    // Under a type it did not register, an office neither sends nor receives.
    let err = both.send_bundle(unit(SendUnitKind::Actuals, (CARE, "15"), (OTHER, "43"))).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::FailedPrecondition, "SERVICE_TYPE_NOT_REGISTERED"));
    let err = care_only.send_bundle(unit(SendUnitKind::UsageTicket, (OTHER, "43"), (CARE, "15"))).await.unwrap_err();
    assert_eq!(reason(&err), "RECEIVER_NOT_REGISTERED");
    // An office with only 43 is not a provider; one with only 11 is not a care office.
    let err = care_only.send_bundle(unit(SendUnitKind::Actuals, (OTHER, "11"), (CARE, "43"))).await.unwrap_err();
    assert_eq!(reason(&err), "WRONG_SIDE");
    let err = provider.send_bundle(unit(SendUnitKind::UsageTicket, (PROV, "43"), (CARE, "11"))).await.unwrap_err();
    assert_eq!(reason(&err), "WRONG_SIDE");

    // The registered list is part of the licence, and a new list replaces it.
    let licence = both.get_licence(GetLicenceRequest::default()).await.unwrap().into_inner().licence.unwrap();
    assert_eq!(licence.service_types, vec!["11", "43"]);
    server.shutdown().await;
}

#[tokio::test]
async fn only_care_management_and_exchanged_types_are_registered() {
    let server = TestServer::start().await;
    let mut client = server.client(Some(office(Role::CareOffice, CARE))).await;
    let request = |types: &[&str]| RegisterLicenceRequest {
        request_id: rid(),
        office_number: CARE.to_owned(),
        service_types: types.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    };
    // 33 (long-term 特定施設) is not exchanged; "1" and "ab" are not service-type codes.
    let err = client.register_licence(request(&["43", "33", "1", "ab"])).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let fields: Vec<_> =
        err.get_error_details().bad_request().unwrap().field_violations.iter().map(|v| v.field.clone()).collect();
    assert_eq!(fields, vec!["service_types[1]", "service_types[2]", "service_types[3]"]);
    let many: Vec<String> = (0..33).map(|_| "11".to_owned()).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = client.register_licence(request(&refs)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // 32 is the most; duplicates fold.
    let licence = client.register_licence(request(&refs[..32])).await.unwrap().into_inner().licence.unwrap();
    assert_eq!(licence.service_types, vec!["11"]);
    server.shutdown().await;
}

/// Issue 17 item 3 through the server: under `lettered_office_check_digit = "warn"` an office
/// number with a letter at position 3 whose check digit fails is registered, read and addressed;
/// under the default (`strict`) it is refused.
#[tokio::test]
async fn a_lettered_office_number_is_registered_and_addressed_when_the_setting_warns() {
    let cd = kaigo_platform::ids::check_digit(b"13A000002").unwrap();
    let lettered = format!("13A000002{}", (cd + 1) % 10);
    let operator = kaigo_platform::testkit::caller_for(Role::Operator, "");
    let request = |number: &str| RegisterLicenceRequest {
        request_id: rid(),
        office_number: number.to_owned(),
        office_role: kaigo_proto::kaigo::careplan::v1::OfficeRole::Provider as i32,
        service_types: vec!["11".to_owned()],
        ..Default::default()
    };

    let strict = TestServer::start().await;
    let mut admin = strict.client(Some(operator.clone())).await;
    let err = admin.register_licence(request(&lettered)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    strict.shutdown().await;

    let config = kaigo_careplan::Config {
        lettered_office_check_digit: kaigo_careplan::domain::spec::LetteredOfficeCheck::Warn,
        ..kaigo_careplan::Config::default()
    };
    let warn = TestServer::start_with_config(config).await;
    let mut admin = warn.client(Some(operator)).await;
    admin.register_licence(request(&lettered)).await.unwrap();
    let licence = admin
        .get_licence(GetLicenceRequest { office_number: lettered.clone() })
        .await
        .unwrap()
        .into_inner()
        .licence
        .unwrap();
    assert_eq!(licence.office_number, lettered);
    // A care office sends it a usage ticket: names and addressing carry the lettered number.
    let mut care = register(&warn, Role::CareOffice, CARE, &["43"]).await;
    care.send_bundle(unit(SendUnitKind::UsageTicket, (CARE, "43"), (&lettered, "11"))).await.unwrap();
    warn.shutdown().await;
}
