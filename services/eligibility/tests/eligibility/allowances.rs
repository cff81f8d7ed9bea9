//! 住宅改修費 and 福祉用具購入費 (docs/domain/eligibility.md#allowances): uses written like every
//! record (request_id, versions, corrections kept in history), what remains at the boundaries
//! of the rules, and who reads them (docs/domain/access.md#allowances), every read audited.

use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::testkit::access as facts;
use kaigo_platform::testkit::{TestDatabase, TestRedis};
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;

use crate::support::*;

fn purchase(reference: &str, receipt: Date, cost_yen: i64) -> pb::EquipmentPurchase {
    pb::EquipmentPurchase {
        claim_reference: reference.into(),
        receipt_date: Some(receipt),
        cost_yen,
        description: "腰掛便座".into(),
    }
}

fn work(reference: &str, receipt: Date, cost_yen: i64, dwelling: &str) -> pb::HomeModification {
    pb::HomeModification {
        claim_reference: reference.into(),
        receipt_date: Some(receipt),
        cost_yen,
        dwelling_reference: dwelling.into(),
        description: "手すりの取付け".into(),
    }
}

async fn buy(client: &mut Client, insured: &str, version: i64, p: pb::EquipmentPurchase) -> (pb::AllowanceUse, i64) {
    let r = client
        .record_equipment_purchase(pb::RecordEquipmentPurchaseRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            expected_version: version,
            equipment_purchase: Some(p),
        })
        .await
        .unwrap()
        .into_inner();
    (r.allowance_use.unwrap(), r.person_version)
}

async fn modify(client: &mut Client, insured: &str, version: i64, h: pb::HomeModification) -> i64 {
    client
        .record_home_modification(pb::RecordHomeModificationRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            expected_version: version,
            home_modification: Some(h),
        })
        .await
        .unwrap()
        .into_inner()
        .person_version
}

async fn copay(
    client: &mut Client,
    insured: &str,
    version: i64,
    ratio: pb::CopaymentRatio,
    start: Date,
    end: Date,
) -> i64 {
    client
        .record_copayment_ratio(pb::RecordCopaymentRatioRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            expected_version: version,
            copayment: Some(pb::CopaymentPeriod { ratio: ratio as i32, period: period(start, Some(end)) }),
        })
        .await
        .unwrap()
        .into_inner()
        .person_version
}

fn ask(insured: &str, as_of: Date, dwelling: &str) -> pb::CheckAllowancesRequest {
    pb::CheckAllowancesRequest {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        as_of: Some(as_of),
        dwelling_reference: dwelling.into(),
        ..Default::default()
    }
}

async fn allowances(client: &mut Client, insured: &str, as_of: Date, dwelling: &str) -> pb::CheckAllowancesResponse {
    client.check_allowances(ask(insured, as_of, dwelling)).await.unwrap().into_inner()
}

fn codes(s: &pb::AllowanceStatus) -> Vec<&str> {
    s.lines.iter().map(|l| l.code.as_str()).collect()
}

fn list(insured: &str) -> pb::ListAllowanceUsesRequest {
    pb::ListAllowanceUsesRequest {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        ..Default::default()
    }
}

/// A person certified 要介護1 over FY2025–2026, 1割 until 2026-07-31 and 2割 from 2026-08-01.
async fn certified_person(client: &mut Client, insured: &str) -> i64 {
    let v = create_person(client, insured).await;
    let v = certify(client, insured, v, common::CareLevel::Care1, date(2025, 4, 1), date(2027, 3, 31)).await;
    let v = copay(client, insured, v, pb::CopaymentRatio::OneTenth, date(2025, 8, 1), date(2026, 7, 31)).await;
    copay(client, insured, v, pb::CopaymentRatio::TwoTenths, date(2026, 8, 1), date(2027, 7, 31)).await
}

#[tokio::test]
async fn purchases_count_per_fiscal_year_at_the_ratio_of_their_receipt_date() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let v = certified_person(&mut municipality, "0000001001").await;
    let (_, v) = buy(&mut municipality, "0000001001", v, purchase("P-1", date(2026, 7, 31), 40_000)).await;
    let (last, _) = buy(&mut municipality, "0000001001", v, purchase("P-2", date(2027, 3, 31), 70_000)).await;

    // March 31: the year's 100,000 yen are spent; the second purchase counts 60,000 at 2割.
    let march = allowances(&mut municipality, "0000001001", date(2027, 3, 31), "").await;
    let fy = march.equipment_purchase.unwrap();
    assert_eq!((fy.limit_yen, fy.used_yen, fy.remaining_yen), (100_000, 100_000, 0));
    assert_eq!(fy.counted_over, period(date(2026, 4, 1), Some(date(2027, 3, 31))));
    assert_eq!(codes(&fy), ["LIMIT", "USE", "USE", "OVER_LIMIT", "REMAINING"]);
    let first = &fy.lines[1];
    assert_eq!(
        (first.copayment_ratio, first.amount_yen, first.benefit_yen, first.user_pays_yen),
        (pb::CopaymentRatio::OneTenth as i32, 40_000, 36_000, 4_000)
    );
    let second = &fy.lines[2];
    assert_eq!(second.use_id, last.use_id);
    assert_eq!(
        (second.copayment_ratio, second.amount_yen, second.benefit_yen, second.user_pays_yen),
        (pb::CopaymentRatio::TwoTenths as i32, 60_000, 48_000, 12_000)
    );
    assert_eq!((fy.lines[3].amount_yen, fy.lines[3].user_pays_yen), (10_000, 10_000));
    // March 30: the March 31 purchase is not counted yet.
    let before = allowances(&mut municipality, "0000001001", date(2027, 3, 30), "").await;
    assert_eq!(before.equipment_purchase.unwrap().remaining_yen, 60_000);
    // April 1: a new fiscal year, the whole allowance again.
    let april = allowances(&mut municipality, "0000001001", date(2027, 4, 1), "").await;
    let fy = april.equipment_purchase.unwrap();
    assert_eq!((fy.used_yen, fy.remaining_yen), (0, 100_000));
    assert_eq!(fy.counted_over, period(date(2027, 4, 1), Some(date(2028, 3, 31))));
    server.stop().await;
}

#[tokio::test]
async fn home_modification_renews_after_a_three_step_rise_and_at_a_new_dwelling() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let insured = "0000001002";
    let v = create_person(&mut municipality, insured).await;
    // 要支援1 (step 1) for FY2024, then 要介護3 (step 4): a rise of three steps.
    let v =
        certify(&mut municipality, insured, v, common::CareLevel::Support1, date(2024, 4, 1), date(2025, 3, 31)).await;
    let v = certify(&mut municipality, insured, v, common::CareLevel::Care3, date(2025, 4, 1), date(2027, 3, 31)).await;
    let v =
        copay(&mut municipality, insured, v, pb::CopaymentRatio::OneTenth, date(2024, 8, 1), date(2025, 7, 31)).await;
    let v = modify(&mut municipality, insured, v, work("H-1", date(2024, 9, 1), 150_000, "HOME-A")).await;

    // Before the rise: 50,000 yen left at HOME-A.
    let s = allowances(&mut municipality, insured, date(2025, 3, 31), "").await.home_modification.unwrap();
    assert_eq!((s.dwelling_reference.as_str(), s.used_yen, s.remaining_yen), ("HOME-A", 150_000, 50_000));
    assert_eq!(codes(&s), ["LIMIT", "USE", "REMAINING"]);
    // From the day of the rise the next work starts a new 200,000 yen.
    let s = allowances(&mut municipality, insured, date(2025, 4, 1), "").await.home_modification.unwrap();
    assert_eq!((s.used_yen, s.remaining_yen), (0, 200_000));
    assert_eq!(codes(&s), ["EARLIER_ALLOWANCE", "CARE_NEED_RISE_AVAILABLE", "REMAINING"]);
    // The work after the rise renews it; what was left before is not added.
    let v = modify(&mut municipality, insured, v, work("H-2", date(2025, 6, 1), 120_000, "HOME-A")).await;
    let s = allowances(&mut municipality, insured, date(2025, 6, 1), "").await.home_modification.unwrap();
    assert_eq!((s.used_yen, s.remaining_yen), (120_000, 80_000));
    assert_eq!(codes(&s), ["EARLIER_ALLOWANCE", "CARE_NEED_RISE", "USE", "REMAINING"]);
    // The move: work at HOME-B opens that dwelling's own allowance; HOME-A keeps its count.
    modify(&mut municipality, insured, v, work("H-3", date(2025, 7, 1), 50_000, "HOME-B")).await;
    let s = allowances(&mut municipality, insured, date(2025, 7, 1), "").await.home_modification.unwrap();
    assert_eq!((s.dwelling_reference.as_str(), s.used_yen, s.remaining_yen), ("HOME-B", 50_000, 150_000));
    assert_eq!(codes(&s), ["NEW_DWELLING", "USE", "REMAINING"]);
    let s = allowances(&mut municipality, insured, date(2025, 7, 1), "HOME-A").await.home_modification.unwrap();
    assert_eq!(s.remaining_yen, 80_000);
    server.stop().await;
}

#[tokio::test]
async fn retries_corrections_and_voids_keep_history_and_change_what_remains() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let insured = "0000001003";
    let v = certified_person(&mut municipality, insured).await;
    let request = pb::RecordEquipmentPurchaseRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: v,
        equipment_purchase: Some(purchase("P-10", date(2026, 5, 1), 30_000)),
    };
    let first = municipality.record_equipment_purchase(request.clone()).await.unwrap().into_inner();
    // A retry answers the first answer and writes nothing more.
    let again = municipality.record_equipment_purchase(request.clone()).await.unwrap().into_inner();
    assert_eq!(first, again);
    let uses = municipality.list_allowance_uses(list(insured)).await.unwrap().into_inner();
    assert_eq!((uses.allowance_uses.len(), uses.person_version), (1, first.person_version));
    // The same id with another body is refused; a stale version too; so is a second use of the
    // claim reference.
    let mut other = request.clone();
    other.equipment_purchase = Some(purchase("P-10", date(2026, 5, 1), 31_000));
    assert_eq!(municipality.record_equipment_purchase(other).await.unwrap_err().code(), tonic::Code::AlreadyExists);
    let mut stale = request.clone();
    stale.request_id = rid();
    assert_eq!(reason(&municipality.record_equipment_purchase(stale.clone()).await.unwrap_err()), "STALE_VERSION");
    stale.expected_version = first.person_version;
    assert_eq!(reason(&municipality.record_equipment_purchase(stale).await.unwrap_err()), "CLAIM_REFERENCE_IN_USE");
    // Bad input: one violation per field, nothing written.
    let bad = municipality
        .record_equipment_purchase(pb::RecordEquipmentPurchaseRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            expected_version: first.person_version,
            equipment_purchase: Some(pb::EquipmentPurchase {
                claim_reference: "bad ref!".into(),
                cost_yen: 0,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let fields = crate::rules::field_violations(&bad);
    assert_eq!(
        fields,
        ["equipment_purchase.claim_reference", "equipment_purchase.receipt_date", "equipment_purchase.cost_yen"]
    );
    // Only the person's own insurer writes.
    let mut other_insurer = server.client(insurer(OTHER_INSURER)).await;
    let mut foreign = request.clone();
    foreign.request_id = rid();
    assert_eq!(
        other_insurer.record_equipment_purchase(foreign).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );

    // A correction: the cost was 80,000 yen. The old use stays, superseded.
    let old = first.allowance_use.unwrap();
    let corrected = municipality
        .correct_allowance_use(pb::CorrectAllowanceUseRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            expected_version: first.person_version,
            use_id: old.use_id.clone(),
            reason: "領収書の金額を訂正".into(),
            replacement: Some(pb::correct_allowance_use_request::Replacement::EquipmentPurchase(purchase(
                "P-10",
                date(2026, 5, 1),
                80_000,
            ))),
        })
        .await
        .unwrap()
        .into_inner();
    let new = corrected.allowance_use.unwrap();
    assert_eq!(new.supersedes_use_id, old.use_id);
    let fy = allowances(&mut municipality, insured, date(2026, 6, 1), "").await.equipment_purchase.unwrap();
    assert_eq!((fy.used_yen, fy.remaining_yen), (80_000, 20_000));
    assert_eq!(fy.lines[1].use_id, new.use_id);
    // Correcting the superseded one is refused; a home modification cannot replace a purchase.
    let mut again = pb::CorrectAllowanceUseRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: corrected.person_version,
        use_id: old.use_id.clone(),
        reason: "再訂正".into(),
        replacement: Some(pb::correct_allowance_use_request::Replacement::HomeModification(work(
            "P-10",
            date(2026, 5, 1),
            80_000,
            "HOME-A",
        ))),
    };
    assert_eq!(reason(&municipality.correct_allowance_use(again.clone()).await.unwrap_err()), "USE_NOT_ACTIVE");
    again.use_id = new.use_id.clone();
    assert_eq!(reason(&municipality.correct_allowance_use(again).await.unwrap_err()), "CORRECTION_KIND_MISMATCH");

    // A void: nothing counts any more; history keeps all three states.
    let voided = municipality
        .void_allowance_use(pb::VoidAllowanceUseRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            expected_version: corrected.person_version,
            use_id: new.use_id.clone(),
            reason: "誤登録".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(voided.allowance_use.unwrap().state, pb::RecordState::Voided as i32);
    let fy = allowances(&mut municipality, insured, date(2026, 6, 1), "").await.equipment_purchase.unwrap();
    assert_eq!(fy.remaining_yen, 100_000);
    assert!(municipality.list_allowance_uses(list(insured)).await.unwrap().into_inner().allowance_uses.is_empty());
    let history = municipality
        .list_allowance_uses(pb::ListAllowanceUsesRequest { include_inactive: true, ..list(insured) })
        .await
        .unwrap()
        .into_inner();
    let states: Vec<_> = history.allowance_uses.iter().map(|u| (u.use_id.clone(), u.state)).collect();
    assert_eq!(
        states,
        [(old.use_id, pb::RecordState::Superseded as i32), (new.use_id, pb::RecordState::Voided as i32)]
    );
    assert_eq!(history.person_version, voided.person_version);
    server.stop().await;
}

#[tokio::test]
async fn who_reads_the_allowances_is_decided_by_the_access_rules_and_every_read_is_audited() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let served = "0000001101";
    let unconsented = "0000001102";
    for insured in [served, unconsented] {
        let v = certified_person(&mut municipality, insured).await;
        buy(&mut municipality, insured, v, purchase("P-1", date(2026, 5, 1), 30_000)).await;
    }
    server.grant(OrganizationKind::CareOffice, OFFICE, served, &Category::ALL).await;
    server.grant(OrganizationKind::CareOffice, OFFICE, unconsented, &[]).await;
    server.grant(OrganizationKind::ServiceProvider, OTHER_OFFICE, served, &Category::ALL).await;
    facts::link(&server.feed, "d000001101", INSURER, served).await;
    let as_of = date(2026, 6, 1);

    // The registered care office with consent sees the uses and the itemised answer.
    let mut care_office = server.client(office(Role::CareOffice, OFFICE)).await;
    let uses = care_office.list_allowance_uses(list(served)).await.unwrap().into_inner();
    assert_eq!(uses.allowance_uses.len(), 1);
    let full = care_office.check_allowances(ask(served, as_of, "")).await.unwrap().into_inner();
    assert!(!full.uses_withheld);
    assert_eq!(codes(full.equipment_purchase.as_ref().unwrap()), ["LIMIT", "USE", "REMAINING"]);
    // Registered without consent: refused, for the list and the check.
    let refused = care_office.list_allowance_uses(list(unconsented)).await.unwrap_err();
    assert_eq!(reason(&refused), "CONSENT_REQUIRED");
    assert_eq!(
        reason(&care_office.check_allowances(ask(unconsented, as_of, "")).await.unwrap_err()),
        "CONSENT_REQUIRED"
    );
    // An office the person never registered: refused, as for a person nobody recorded.
    let mut stranger = server.client(office(Role::CareOffice, "0300000205")).await;
    assert_eq!(reason(&stranger.list_allowance_uses(list(served)).await.unwrap_err()), "NOT_REGISTERED");
    assert_eq!(reason(&stranger.list_allowance_uses(list("0000001199")).await.unwrap_err()), "NOT_REGISTERED");
    // The person, by their identity link: their own, not another's.
    let me = Caller { subject: "d000001101".into(), office: None, ..office(Role::InsuredPerson, OFFICE) };
    let mut person = server.client(me).await;
    assert_eq!(person.list_allowance_uses(list(served)).await.unwrap().into_inner().allowance_uses.len(), 1);
    let own = person.check_allowances(ask(served, as_of, "")).await.unwrap().into_inner();
    assert_eq!(own.equipment_purchase.unwrap().remaining_yen, 70_000);
    assert_eq!(reason(&person.list_allowance_uses(list(unconsented)).await.unwrap_err()), "NOT_REGISTERED");
    // A provider acting for the person checks the remainder, without the uses; the list is
    // not for it.
    let mut provider = server.client(office(Role::ServiceProvider, OTHER_OFFICE)).await;
    let totals = provider.check_allowances(ask(served, as_of, "")).await.unwrap().into_inner();
    assert!(totals.uses_withheld);
    let fy = totals.equipment_purchase.unwrap();
    assert_eq!((fy.used_yen, fy.remaining_yen), (30_000, 70_000));
    assert_eq!(codes(&fy), ["LIMIT", "REMAINING"]);
    assert_eq!(reason(&provider.list_allowance_uses(list(served)).await.unwrap_err()), "ALLOWANCE_CHECK_ONLY");
    // A provider not registered for the other person: refused.
    assert_eq!(reason(&provider.check_allowances(ask(unconsented, as_of, "")).await.unwrap_err()), "NOT_REGISTERED");

    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    server.stop().await;
    let trail = |insured: &'static str| {
        let conn = conn.clone();
        async move {
            let mut reads =
                kaigo_platform::audit::reads_of_person(&conn, &kaigo_platform::audit::person(INSURER, insured), 50)
                    .await
                    .unwrap();
            reads.retain(|r| r.category == "allowance_use");
            reads.reverse();
            reads.into_iter().map(|r| (r.caller_role, r.rpc, r.outcome)).collect::<Vec<_>>()
        }
    };
    let row = |role: &str, rpc: &str, outcome: &str| (role.to_owned(), rpc.to_owned(), outcome.to_owned());
    assert_eq!(
        trail(served).await,
        [
            row("care_office", "ListAllowanceUses", "allowed"),
            row("care_office", "CheckAllowances", "allowed"),
            row("care_office", "ListAllowanceUses", "denied"),
            row("insured_person", "ListAllowanceUses", "allowed"),
            row("insured_person", "CheckAllowances", "allowed"),
            row("service_provider", "CheckAllowances", "allowed"),
            row("service_provider", "ListAllowanceUses", "denied"),
        ]
    );
    assert_eq!(
        trail(unconsented).await,
        [
            row("care_office", "ListAllowanceUses", "denied"),
            row("care_office", "CheckAllowances", "denied"),
            row("insured_person", "ListAllowanceUses", "denied"),
            row("service_provider", "CheckAllowances", "denied"),
        ]
    );
}

#[tokio::test]
async fn strings_beyond_their_maximum_are_refused_naming_the_field() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let v = create_person(&mut municipality, "0000001004").await;
    let mut long = work(&"R".repeat(33), date(2026, 5, 1), 10_000, &"D".repeat(65));
    long.description = "改".repeat(201);
    let err = municipality
        .record_home_modification(pb::RecordHomeModificationRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000001004".into(),
            expected_version: v,
            home_modification: Some(long),
        })
        .await
        .unwrap_err();
    assert_eq!(
        crate::rules::field_violations(&err),
        ["home_modification.claim_reference", "home_modification.dwelling_reference", "home_modification.description"]
    );
    // At the maxima the write is taken.
    let mut longest = work(&"R".repeat(32), date(2026, 5, 1), 10_000, &"D".repeat(64));
    longest.description = "改".repeat(200);
    modify(&mut municipality, "0000001004", v, longest).await;
    let err = municipality
        .void_allowance_use(pb::VoidAllowanceUseRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000001004".into(),
            expected_version: v + 1,
            use_id: "1".repeat(20),
            reason: "x".repeat(501),
        })
        .await
        .unwrap_err();
    assert_eq!(crate::rules::field_violations(&err), ["use_id", "reason"]);
    let err = municipality.check_allowances(ask("0000001004", date(2026, 5, 1), &"D".repeat(65))).await.unwrap_err();
    assert_eq!(crate::rules::field_violations(&err), ["dwelling_reference"]);
    server.stop().await;
}

async fn import(client: &mut Client, rows: Vec<pb::ImportRow>) -> (pb::ImportProgress, Vec<pb::ImportRowError>) {
    use pb::import_insured_persons_request::Payload;
    use pb::import_insured_persons_response::Event;
    let header = pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };
    let messages = vec![
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(header)) },
        pb::ImportInsuredPersonsRequest { payload: Some(Payload::Chunk(pb::ImportChunk { rows })) },
    ];
    let mut stream = client.import_insured_persons(tokio_stream::iter(messages)).await.unwrap().into_inner();
    let (mut totals, mut errors) = (None, Vec::new());
    while let Some(message) = stream.message().await.unwrap() {
        match message.event {
            Some(Event::Summary(s)) => totals = s.totals,
            Some(Event::RowError(e)) => errors.push(e),
            _ => {}
        }
    }
    (totals.expect("a summary"), errors)
}

fn import_row(insured: &str, line: i64, purchases: Vec<pb::EquipmentPurchase>) -> pb::ImportRow {
    pb::ImportRow {
        line_number: line,
        person: Some(pb::InsuredPerson {
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            name_kanji: "介護 花子".into(),
            name_kana: "カイゴ ハナコ".into(),
            birth_date: Some(date(1950, 5, 3)),
            sex: common::Sex::Female as i32,
            insured_category: common::InsuredCategory::First as i32,
            qualification_acquired_date: Some(date(2020, 4, 1)),
            ..Default::default()
        }),
        copayments: vec![pb::CopaymentPeriod {
            ratio: pb::CopaymentRatio::OneTenth as i32,
            period: period(date(2025, 8, 1), Some(date(2026, 7, 31))),
        }],
        home_modifications: vec![work("H-1", date(2025, 9, 1), 120_000, "HOME-A")],
        equipment_purchases: purchases,
        ..Default::default()
    }
}

#[tokio::test]
async fn an_import_adds_corrects_by_claim_reference_and_reloads_as_a_no_op() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let first = vec![purchase("P-1", date(2025, 10, 1), 30_000)];
    let (totals, errors) = import(&mut municipality, vec![import_row("0000001201", 2, first.clone())]).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(totals.persons_created, 1);
    let (totals, _) = import(&mut municipality, vec![import_row("0000001201", 2, first)]).await;
    assert_eq!((totals.persons_changed, totals.persons_unchanged), (0, 1));

    // P-1 corrected to 50,000 yen, P-2 added: one change; the old P-1 kept, superseded.
    let second = vec![purchase("P-1", date(2025, 10, 1), 50_000), purchase("P-2", date(2025, 11, 1), 10_000)];
    let (totals, _) = import(&mut municipality, vec![import_row("0000001201", 2, second.clone())]).await;
    assert_eq!((totals.persons_changed, totals.persons_unchanged), (1, 0));
    let history = municipality
        .list_allowance_uses(pb::ListAllowanceUsesRequest { include_inactive: true, ..list("0000001201") })
        .await
        .unwrap()
        .into_inner()
        .allowance_uses;
    let states: Vec<_> = history.iter().map(|u| u.state).collect();
    let (active, superseded) = (pb::RecordState::Active as i32, pb::RecordState::Superseded as i32);
    assert_eq!(states, [active, superseded, active, active]);
    let answer = allowances(&mut municipality, "0000001201", date(2025, 12, 1), "").await;
    assert_eq!(answer.equipment_purchase.unwrap().remaining_yen, 40_000);
    assert_eq!(answer.home_modification.unwrap().remaining_yen, 80_000);

    // A claim reference twice in one row: the row is refused, naming the second.
    let twice = vec![purchase("P-3", date(2025, 12, 1), 1_000), purchase("P-3", date(2025, 12, 2), 2_000)];
    let (totals, errors) = import(&mut municipality, vec![import_row("0000001201", 3, twice)]).await;
    assert_eq!(totals.rows_rejected, 1);
    assert_eq!(errors[0].violations[0].field, "equipment_purchases[1].claim_reference");
    server.stop().await;
}
