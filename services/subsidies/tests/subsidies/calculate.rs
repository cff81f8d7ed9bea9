//! CalculateSubsidy and the programme RPCs over the wire.

use kaigo_proto::kaigo::subsidies::v1 as pb;
use pb::calculate_subsidy_request::Costs;
use tonic::Code;

use crate::harness::*;

#[tokio::test]
async fn calculates_with_an_itemised_explanation() {
    let svc = Service::start().await;
    let number = office("21", 1);
    let mut client = svc.office_client(&number).await;

    // Two categories: caps add up to 64,000 + 55,000 = 119,000; 4 readers, 3 count.
    let response = client
        .calculate_subsidy(pb::CalculateSubsidyRequest {
            programme_id: "fy2025".to_owned(),
            costs: Some(Costs::CareOffice(care_costs(
                &number,
                &["visit_day_short_stay", "residential"],
                &[(4, 20_000)],
                70_000,
                0,
            ))),
        })
        .await
        .unwrap()
        .into_inner()
        .calculation
        .unwrap();
    assert_eq!(response.total_cost_yen, 150_000);
    assert_eq!(response.eligible_cost_yen, 130_000);
    assert_eq!(response.eligible_amount_yen, 119_000);
    let codes: Vec<_> = response.lines.iter().map(|l| (l.code.as_str(), l.limit_id.as_str())).collect();
    assert!(codes.contains(&("READER_LIMIT", "visit_day_short_stay")), "{codes:?}");
    assert!(codes.contains(&("CAP_APPLIED", "visit_day_short_stay+residential")), "{codes:?}");

    // A 200-bed hospital: 1/2, capped at 550,000.
    let code = institution("01", 7);
    let calculation = svc
        .institution_client(&code)
        .await
        .calculate_subsidy(pb::CalculateSubsidyRequest {
            programme_id: "fy2025".to_owned(),
            costs: Some(Costs::MedicalInstitution(medical_costs(&code, pb::InstitutionType::Hospital, 200, 1_500_000))),
        })
        .await
        .unwrap()
        .into_inner()
        .calculation
        .unwrap();
    assert_eq!(calculation.tier_id, "hospital_200_plus");
    assert_eq!(calculation.eligible_amount_yen, 550_000);

    // Nothing is stored by a calculation.
    assert_eq!(svc.application_count().await, 0);
}

#[tokio::test]
async fn bad_calculations_name_every_field_and_insurers_are_refused() {
    let svc = Service::start().await;
    let number = office("13", 2);
    let mut client = svc.office_client(&number).await;
    let status = client
        .calculate_subsidy(pb::CalculateSubsidyRequest {
            programme_id: "fy2025".to_owned(),
            costs: Some(Costs::CareOffice(care_costs(&number, &["spa"], &[(1, -5)], -1, 0))),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut got = fields(&status);
    got.sort();
    assert_eq!(
        got,
        [
            "costs.care_office.category_ids[0]",
            "costs.care_office.connection_support_cost_yen",
            "costs.care_office.readers[0].unit_price_yen"
        ]
    );

    let status = client
        .calculate_subsidy(pb::CalculateSubsidyRequest { programme_id: "fy1999".to_owned(), costs: None })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["programme_id", "costs"]);

    let status = svc
        .insurer()
        .await
        .calculate_subsidy(pb::CalculateSubsidyRequest {
            programme_id: "fy2025".to_owned(),
            costs: Some(Costs::CareOffice(care_costs(&number, &["other"], &[(1, 10_000)], 0, 0))),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn programmes_are_listed_from_the_data_file() {
    let svc = Service::start().await;
    let mut client = svc.insurer().await;
    let listed = client.list_programmes(pb::ListProgrammesRequest::default()).await.unwrap().into_inner();
    // Newest first: FY2026 as announced, then FY2025.
    let ids: Vec<_> = listed.programmes.iter().map(|p| p.programme_id.as_str()).collect();
    assert_eq!(ids, ["fy2026", "fy2025"]);
    let date = |year, month, day| Some(kaigo_proto::google::r#type::Date { year, month, day });
    let fy2026 = &listed.programmes[0];
    let windows: Vec<_> = fy2026.windows.iter().map(|w| (w.applicant_kind, w.open_date, w.deadline)).collect();
    assert_eq!(windows, [(pb::ApplicantKind::CareOffice as i32, date(2026, 5, 7), date(2027, 3, 12))]);
    assert!(fy2026.medical_tiers.is_empty());
    let p = &listed.programmes[1];
    assert_eq!(p.programme_id, "fy2025");
    assert_eq!(p.application_deadline, date(2026, 3, 13));
    assert_eq!(p.application_open_date, date(2025, 8, 1));
    let kinds: Vec<_> = p.windows.iter().map(|w| (w.applicant_kind, w.deadline)).collect();
    assert_eq!(
        kinds,
        [
            (pb::ApplicantKind::CareOffice as i32, date(2026, 3, 13)),
            (pb::ApplicantKind::MedicalInstitution as i32, date(2026, 3, 13))
        ]
    );
    assert!(!p.reapply_after_rejection);
    assert!(p.resubmit_returned_after_deadline);
    let rules = p.care_office_rules.as_ref().unwrap();
    let caps: Vec<_> = rules.categories.iter().map(|c| (c.max_readers, c.cap_yen)).collect();
    assert_eq!(caps, [(3, 64_000), (2, 55_000), (1, 42_000)]);
    assert_eq!(p.medical_tiers.len(), 2);
    assert_eq!(p.rounding, pb::RoundingMode::Down as i32);

    let missing =
        client.get_programme(pb::GetProgrammeRequest { programme_id: "fy2031".to_owned() }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}
