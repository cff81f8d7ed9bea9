//! Files built in code from the layouts of docs/domain/careplan-csv.md (not the golden set),
//! at the boundaries of the rules a unit must keep (issue 17 items 5 and 7): the service types
//! in the exchange, the care office's own service type, and the keys that join 補足, 第1表 and
//! 第6表 within one send unit.

use kaigo_platform::auth::Role;
use kaigo_proto::kaigo::careplan::v1::{
    BundleFileContent, SendUnitKind, ValidateFilesRequest, ValidateFilesResponse, ValidationIssue,
};
use tonic_types::StatusExt;

use crate::exchange::{CARE, OTHER, PROV, licensed, rid, usage_request};
use crate::harness::{TestServer, office};

/// One record of `columns` fields: every column empty except those given (1-based No. → text).
/// Free text is given with its quotes.
fn record(columns: usize, values: &[(usize, &str)]) -> String {
    let mut fields = vec![""; columns];
    for (no, text) in values {
        fields[no - 1] = text;
    }
    fields.join(",")
}

/// A file of `records`, MS932 with CRLF after every record.
fn file(name: &str, records: &[String]) -> BundleFileContent {
    let text: String = records.iter().map(|r| format!("{r}\r\n")).collect();
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!bad);
    BundleFileContent { file_name: name.to_owned(), content: bytes.into_owned() }
}

const V4: &str = "202407";
const INSURER: &str = "435073";

/// 第6表 (25 columns, #table6): one service date of `insured` in May 2025.
fn usage(insured: &str, day: u32, service_code: &str) -> String {
    let date = format!("202505{day:02}");
    record(
        25,
        &[
            (1, V4),
            (2, INSURER),
            (3, insured),
            (4, "20250425"),
            (5, "202505"),
            (6, CARE),
            (8, "387"),
            (10, &date),
            (12, "1000"),
            (13, "1100"),
            (14, "1"),
            (15, service_code),
            (20, PROV),
            (23, "0"),
        ],
    )
}

/// 第7表 (37 columns, #table7): a detail row of `service_code`, or the grand-total row.
fn annex(insured: &str, service_code: &str) -> String {
    let total = service_code == "999999";
    let subtotal = !total && service_code.ends_with("AAAA");
    let office = if total { "9999999999" } else { PROV };
    let units = if total || subtotal { "0" } else { "387" };
    let mut values = vec![(1, V4), (2, INSURER), (3, insured), (4, "20250425"), (5, "202505")];
    values.extend([(7, office), (9, service_code), (13, units), (33, "0")]);
    if !total && !subtotal {
        values.push((16, "2"));
    }
    record(37, &values)
}

/// 利用者補足情報 (63 columns, #supplement): for a 第6表 set (`month`) or a 第1表 set (`plan_date`).
fn supplement(insured: &str, plan_date: &str, month: &str) -> String {
    record(
        63,
        &[
            (1, V4),
            (2, INSURER),
            (3, insured),
            (4, plan_date),
            (5, "\"カイゴ　タロウ\""),
            (6, "\"介護　太郎\""),
            (7, "1"),
            (8, "19400105"),
            (63, month),
        ],
    )
}

/// 第1表 (28 columns, #table1) of a plan made on `plan_date`.
fn plan1(insured: &str, plan_date: &str) -> String {
    record(
        28,
        &[
            (1, V4),
            (2, INSURER),
            (3, insured),
            (4, plan_date),
            (8, "\"介護　支援子\""),
            (9, "\"みずかみ居宅介護支援センター\""),
            (13, CARE),
            (14, plan_date),
            (15, "20230401"),
        ],
    )
}

/// 第2表 (22 columns, #table2): one service line of the plan of `plan_date`.
fn plan2(insured: &str, plan_date: &str) -> String {
    record(22, &[(1, V4), (2, INSURER), (3, insured), (4, plan_date), (5, plan_date)])
}

/// 第3表 (13 columns, #table3): one weekly slot of the plan of `plan_date`.
fn plan3(insured: &str, plan_date: &str) -> String {
    record(
        13,
        &[(1, V4), (2, INSURER), (3, insured), (4, plan_date), (5, plan_date), (7, "1"), (8, "1000"), (9, "1100")],
    )
}

const SEQ: &str = "20250425103100";

/// `{prefix}_{month?}_{CARE}_{care type}_{PROV}_{provider type}_{SEQ}.CSV`.
fn name(prefix: &str, month: Option<&str>, care_type: &str, provider_type: &str) -> String {
    let month = month.map(|m| format!("{m}_")).unwrap_or_default();
    format!("{prefix}_{month}{CARE}_{care_type}_{PROV}_{provider_type}_{SEQ}.CSV")
}

async fn validate(server: &TestServer, files: Vec<BundleFileContent>, kind: SendUnitKind) -> ValidateFilesResponse {
    let mut client = server.client(Some(office(Role::CareOffice, CARE))).await;
    client.validate_files(ValidateFilesRequest { files, kind: kind as i32 }).await.unwrap().into_inner()
}

/// (file name, line, column, code) of every error.
fn errors(response: &ValidateFilesResponse) -> Vec<(String, i32, i32, String)> {
    response
        .issues
        .iter()
        .filter(|i: &&ValidationIssue| i.severity == kaigo_proto::kaigo::careplan::v1::IssueSeverity::Error as i32)
        .map(|i| (i.file_name.clone(), i.line, i.column, i.code.clone()))
        .collect()
}

const A: &str = "0000000001";
const B: &str = "0000000002";
const C: &str = "0000000003";

/// A 第6表+第7表+補足 unit of persons A and B, each with one detail row of `code`.
fn usage_unit(code: &str) -> Vec<BundleFileContent> {
    let kind = &code[..2];
    vec![
        file(&name("UPPLAN", Some("202505"), "43", "11"), &[usage(A, 1, code), usage(B, 2, code)]),
        file(
            &name("UPSIKYU", Some("202505"), "43", "11"),
            &[annex(A, code), annex(A, "999999"), annex(B, code), annex(B, &format!("{kind}AAAA")), annex(B, "999999")],
        ),
        file(
            &name("UPHOSOKU", Some("202505"), "43", "11"),
            &[supplement(A, "00000000", "202505"), supplement(B, "00000000", "202505")],
        ),
    ]
}

#[tokio::test]
async fn rows_of_service_types_outside_the_exchange_are_refused_with_the_row_named() {
    let server = TestServer::start().await;
    // In the exchange: care services, the short-term-only types, prevention and 総合事業.
    for code in ["111211", "2A1111", "271111", "381111", "671001", "A81111"] {
        let mut unit = usage_unit(code);
        if code.starts_with("67") {
            // 介護予防福祉用具貸与 needs its TAISコード (No.16 of 第6表, No.10 of 第7表).
            unit = usage_unit_with_tais(code);
        }
        let response = validate(&server, unit, SendUnitKind::UsageTicket).await;
        assert!(response.valid, "{code}: {:#?}", response.issues);
    }
    // Outside: long-term 特定施設 (33), 認知症GH (32), institutions (51), 居宅介護支援 (43).
    for code in ["331111", "321111", "511111", "431111"] {
        let response = validate(&server, usage_unit(code), SendUnitKind::UsageTicket).await;
        let plan = name("UPPLAN", Some("202505"), "43", "11");
        let annex = name("UPSIKYU", Some("202505"), "43", "11");
        let code_issue = "SERVICE_TYPE_NOT_EXCHANGED".to_owned();
        assert_eq!(
            errors(&response),
            vec![
                (plan.clone(), 1, 15, code_issue.clone()),
                (plan, 2, 15, code_issue.clone()),
                (annex.clone(), 1, 9, code_issue.clone()),
                (annex.clone(), 3, 9, code_issue.clone()),
                (annex, 4, 9, code_issue),
            ],
            "{code}"
        );
    }
    // A 実績削除 names the service type it deletes (No.6).
    let delete = |kind: &str| {
        file(
            &format!("DLTJSK_202505_{PROV}_11_{CARE}_43_20250602090000.CSV"),
            &[record(6, &[(1, V4), (2, INSURER), (3, A), (4, "202505"), (5, PROV), (6, kind)])],
        )
    };
    assert!(validate(&server, vec![delete("11")], SendUnitKind::ActualsDelete).await.valid);
    let response = validate(&server, vec![delete("81")], SendUnitKind::ActualsDelete).await;
    let found: Vec<_> = errors(&response).into_iter().map(|(_, l, c, code)| (l, c, code)).collect();
    assert_eq!(found, vec![(1, 6, "SERVICE_TYPE_NOT_EXCHANGED".to_owned())]);
    server.shutdown().await;
}

fn usage_unit_with_tais(code: &str) -> Vec<BundleFileContent> {
    let mut unit = usage_unit(code);
    let with = |text: &[u8], from: &str, to: &str| {
        let (decoded, _, _) = encoding_rs::SHIFT_JIS.decode(text);
        let replaced = decoded.replace(from, to);
        encoding_rs::SHIFT_JIS.encode(&replaced).0.into_owned()
    };
    // 第6表: No.15 then an empty No.16; 第7表 detail rows: No.9 then an empty No.10.
    unit[0].content = with(&unit[0].content, &format!(",{code},,"), &format!(",{code},00001-000010,"));
    unit[1].content = with(&unit[1].content, &format!(",{code},,"), &format!(",{code},00001-000010,"));
    unit
}

#[tokio::test]
async fn the_care_office_side_of_a_unit_is_43_or_46() {
    let server = TestServer::start().await;
    let unit = |care: &str, provider: &str| {
        let mut files = usage_unit("111211");
        for f in &mut files {
            f.file_name =
                f.file_name.replace(&format!("_{CARE}_43_{PROV}_11_"), &format!("_{CARE}_{care}_{PROV}_{provider}_"));
        }
        files
    };
    for care in ["43", "46"] {
        let response = validate(&server, unit(care, "11"), SendUnitKind::UsageTicket).await;
        assert!(response.valid, "{care}: {:#?}", response.issues);
    }
    // A 予定 unit sent as 訪問介護 (11) or 介護予防ケアマネジメント (A6 is a 総合事業 service):
    // the sender's own type is wrong; so is a receiver of a type outside the exchange.
    for (care, provider, code) in [
        ("11", "11", "NOT_CARE_MANAGEMENT_TYPE"),
        ("A6", "11", "NOT_CARE_MANAGEMENT_TYPE"),
        ("43", "43", "SERVICE_TYPE_NOT_EXCHANGED"),
        ("43", "33", "SERVICE_TYPE_NOT_EXCHANGED"),
    ] {
        let response = validate(&server, unit(care, provider), SendUnitKind::UsageTicket).await;
        let codes: Vec<_> = errors(&response).into_iter().map(|(_, line, _, code)| (line, code)).collect();
        assert_eq!(codes, vec![(0, code.to_owned())], "{care} → {provider}");
    }
    // 実績 go the other way: the provider sends, the care office (43/46) receives.
    let actuals = |provider: &str, care: &str| {
        file(&format!("UPJSK_202505_{PROV}_{provider}_{CARE}_{care}_20250601090000.CSV"), &[usage(A, 1, "111211")])
    };
    assert!(validate(&server, vec![actuals("11", "46")], SendUnitKind::Actuals).await.valid);
    let response = validate(&server, vec![actuals("43", "11")], SendUnitKind::Actuals).await;
    let codes: Vec<_> = errors(&response).into_iter().map(|(_, _, _, code)| code).collect();
    assert_eq!(codes, vec!["NOT_CARE_MANAGEMENT_TYPE", "SERVICE_TYPE_NOT_EXCHANGED"]);
    server.shutdown().await;
}

#[tokio::test]
async fn the_records_of_a_unit_agree_on_person_plan_date_and_month() {
    let server = TestServer::start().await;
    // 第6表 set: B has no 補足; the 第7表 names C, whom the 第6表 does not.
    let mut unit = usage_unit("111211");
    unit[1] = file(
        &unit[1].file_name.clone(),
        &[annex(A, "111211"), annex(A, "999999"), annex(C, "111211"), annex(C, "999999")],
    );
    unit[2] = file(&unit[2].file_name.clone(), &[supplement(A, "00000000", "202505")]);
    let response = validate(&server, unit.clone(), SendUnitKind::UsageTicket).await;
    let plan = unit[0].file_name.clone();
    let annex_name = unit[1].file_name.clone();
    assert_eq!(
        errors(&response),
        vec![(annex_name, 3, 0, "SET_WITHOUT_PARENT".to_owned()), (plan, 2, 0, "SUPPLEMENT_MISSING".to_owned())]
    );

    // 第1表 set: the key is the plan date. A 第2表 line of another plan date, a 第3表 of
    // another person and a 補足 of another date are each named; the matching ones pass.
    let plan_unit = |p2: &str, p3_person: &str, supplement_date: &str| {
        vec![
            file(&name("UP1KYO", None, "43", "11"), &[plan1(A, "20250420"), plan1(B, "20250418")]),
            file(&name("UP2KYO", None, "43", "11"), &[plan2(A, "20250420"), plan2(B, p2)]),
            file(&name("UP3KYO", None, "43", "11"), &[plan3(A, "20250420"), plan3(p3_person, "20250418")]),
            file(
                &name("UPHOSOKU", Some("000000"), "43", "11"),
                &[supplement(A, "20250420", "000000"), supplement(B, supplement_date, "000000")],
            ),
        ]
    };
    let ok = validate(&server, plan_unit("20250418", B, "20250418"), SendUnitKind::Plan).await;
    assert!(ok.valid, "{:#?}", ok.issues);
    let files = plan_unit("20250419", C, "20250417");
    let response = validate(&server, files.clone(), SendUnitKind::Plan).await;
    let wrong = |i: usize, line: i32, code: &str| (files[i].file_name.clone(), line, 0, code.to_owned());
    assert_eq!(
        errors(&response),
        vec![
            wrong(1, 2, "SET_WITHOUT_PARENT"),
            wrong(2, 2, "SET_WITHOUT_PARENT"),
            wrong(3, 2, "SET_WITHOUT_PARENT"),
            wrong(0, 2, "SUPPLEMENT_MISSING"),
        ]
    );
    server.shutdown().await;
}

/// Through SendBundle each problem is a field violation naming file, line and column, with the
/// code as its reason (issue 17 item 7), and nothing is stored.
#[tokio::test]
async fn send_bundle_names_each_problem_by_file_line_and_column() {
    let server = TestServer::start().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (_prov, _) = licensed(&server, Role::ServiceProvider, PROV).await;
    let mut unit = usage_unit("111211");
    // 第6表 line 2: a long-term 特定施設 row; 補足 line 2: a person the 第6表 does not have.
    unit[0] = file(&unit[0].file_name.clone(), &[usage(A, 1, "111211"), usage(A, 3, "331111"), usage(B, 2, "111211")]);
    unit[2] = file(
        &unit[2].file_name.clone(),
        &[
            supplement(A, "00000000", "202505"),
            supplement(C, "00000000", "202505"),
            supplement(B, "00000000", "202505"),
        ],
    );
    let err = care.send_bundle(usage_request(&rid(), unit.clone())).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let violations = err.get_error_details().bad_request().unwrap().field_violations.clone();
    let found: Vec<_> = violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
    assert_eq!(found, vec![("files[0].line[2].column[15]", "SERVICE_TYPE_NOT_EXCHANGED")]);
    // With the row fixed, the unit-level problem is named at its file and line.
    unit[0] = file(&unit[0].file_name.clone(), &[usage(A, 1, "111211"), usage(B, 2, "111211")]);
    let err = care.send_bundle(usage_request(&rid(), unit.clone())).await.unwrap_err();
    let violations = err.get_error_details().bad_request().unwrap().field_violations.clone();
    let found: Vec<_> = violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
    assert_eq!(found, vec![("files[2].line[2]", "SET_WITHOUT_PARENT")]);
    assert!(!violations[0].description.contains(C), "no insured number in a message");
    // Fixed, the unit goes.
    unit[2] =
        file(&unit[2].file_name.clone(), &[supplement(A, "00000000", "202505"), supplement(B, "00000000", "202505")]);
    care.send_bundle(usage_request(&rid(), unit)).await.unwrap();
    server.shutdown().await;
}

/// Issue 17 item 3: an office number with a letter at position 3 whose check digit fails is
/// refused or accepted with a warning, as `careplan.lettered_office_check_digit` says, in file
/// names and columns alike; a digits-only number with a wrong check digit is refused either way.
#[test]
fn lettered_office_numbers_follow_the_setting() {
    use kaigo_careplan::csv::scan_file;
    use kaigo_careplan::domain::spec::{LetteredOfficeCheck, Settings, Spec};
    let cd = kaigo_platform::ids::check_digit(b"13A000001").unwrap();
    let good = format!("13A000001{cd}");
    let bad = format!("13A000001{}", (cd + 1) % 10);
    let spec =
        |check| Spec::embedded().unwrap().with_settings(Settings { lettered_office: check, ..Settings::default() });
    let issues = |check, sender: &str, provider: &str| {
        let row = usage(A, 1, "111211").replace(&format!(",{PROV},"), &format!(",{provider},"));
        let f = file(&format!("UPPLAN_202505_{sender}_43_{PROV}_11_{SEQ}.CSV"), &[row]);
        let summary = scan_file(&f.file_name, &f.content, &spec(check));
        summary.issues.iter().map(|i| (i.line, i.column, i.code, i.is_error())).collect::<Vec<_>>()
    };
    for check in [LetteredOfficeCheck::Strict, LetteredOfficeCheck::Warn] {
        assert_eq!(issues(check, &good, &good), vec![], "{check:?}");
        // A digits-only number with a wrong check digit (…18 is right) is an error in both modes.
        let wrong_digit = issues(check, CARE, "1370000019");
        assert_eq!(wrong_digit, vec![(1, 20, "BAD_CHECK_DIGIT", true)], "{check:?}");
    }
    assert_eq!(
        issues(LetteredOfficeCheck::Strict, &bad, &bad),
        vec![(0, 0, "BAD_CHECK_DIGIT", true), (1, 20, "BAD_CHECK_DIGIT", true)]
    );
    assert_eq!(
        issues(LetteredOfficeCheck::Warn, &bad, &bad),
        vec![(0, 0, "BAD_CHECK_DIGIT", false), (1, 20, "BAD_CHECK_DIGIT", false)]
    );
}

/// Issue 17 item 4: CSVバージョン 202208 is accepted up to the configured last service month
/// (`careplan.csv_202208_last_service_month`, 2025-03 by default), then refused.
#[test]
fn the_202208_cut_over_follows_the_setting() {
    use kaigo_careplan::csv::scan_file;
    use kaigo_careplan::domain::spec::{Settings, Spec};
    use kaigo_careplan::domain::values::YearMonth;
    // A v3.2 第6表 (22 columns: v4.1 without Nos. 16-18, #v3) for `month`.
    let v3 = |month: &str| {
        let date = format!("{month}01");
        let row = record(
            22,
            &[
                (1, "202208"),
                (2, INSURER),
                (3, A),
                (4, &date),
                (5, month),
                (6, CARE),
                (8, "387"),
                (10, &date),
                (12, "1000"),
                (13, "1100"),
                (14, "1"),
                (15, "111211"),
                (17, PROV),
                (20, "0"),
            ],
        );
        file(&format!("UPPLAN_{month}_{CARE}_{PROV}_{SEQ}.CSV"), &[row])
    };
    let codes = |spec: &Spec, month: &str| {
        let f = v3(month);
        scan_file(&f.file_name, &f.content, spec).issues.iter().map(|i| i.code).collect::<Vec<_>>()
    };
    let default = Spec::embedded().unwrap();
    assert_eq!(codes(&default, "202503"), Vec::<&str>::new());
    assert_eq!(codes(&default, "202504"), vec!["VERSION_NOT_IN_FORCE"]);
    let mut later = Settings::default();
    later.last_service_month.insert("202208".to_owned(), YearMonth::new(2025, 9).unwrap());
    let later = Spec::embedded().unwrap().with_settings(later);
    assert_eq!(codes(&later, "202509"), Vec::<&str>::new());
    assert_eq!(codes(&later, "202510"), vec!["VERSION_NOT_IN_FORCE"]);
    let open = Spec::embedded()
        .unwrap()
        .with_settings(Settings { last_service_month: Default::default(), ..Settings::default() });
    assert_eq!(codes(&open, "203001"), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------------
// The 介護予防 files (issue 17 item 6; docs/domain/careplan-csv.md#prevention), built from their
// layouts: 利用者基本情報 (71 columns) with 別表1 (7) and 別表2 (11), 介護予防サービス・支援計画書
// (57) with its 別表 (17), and the two deletions (4 each). The care office's side is 46.

/// `{prefix}_{CARE}_46_{PROV}_{provider}_{SEQ}.CSV` (no month part).
fn prevention_name(prefix: &str) -> String {
    format!("{prefix}_{CARE}_46_{PROV}_63_{SEQ}.CSV")
}

/// 利用者基本情報 (UPKIHON, #prevention-basic) of a consultation on `date`.
fn basic(insured: &str, date: &str) -> String {
    record(
        71,
        &[
            (1, V4),
            (2, INSURER),
            (3, insured),
            (4, date),
            (5, "1"),
            (6, "2"),
            (8, "01"),
            (10, "02"),
            (11, "20250301"),
            (12, "01"),
            (14, "\"ヨボウ　ハナコ\""),
            (15, "\"予防　花子\""),
            (16, "2"),
            (17, "19420312"),
            (21, "11"),
            (22, "02"),
            (23, "12"),
            (24, "20250401"),
            (25, "20260331"),
            (27, "1"),
            (29, "0"),
            (34, "05"),
            (35, "2"),
            (36, "1"),
            (37, "1"),
            (46, "\"予防　一郎\""),
            (49, "03-1234-5678"),
            (62, "\"\""),
            (70, date),
        ],
    )
}

/// 別表1 (UPKIHON_SUB1): one time of the day.
fn schedule(insured: &str, date: &str) -> String {
    record(7, &[(1, V4), (2, INSURER), (3, insured), (4, date), (5, "\"7:00\""), (6, "\"起床\"")])
}

/// 別表2 (UPKIHON_SUB2): one illness.
fn history(insured: &str, date: &str) -> String {
    record(11, &[(1, V4), (2, INSURER), (3, insured), (4, date), (6, "\"高血圧症\""), (8, "1"), (10, "01")])
}

/// 介護予防サービス・支援計画書 (UPYOBO, #prevention-plan) made on `date`.
fn prevention_plan(insured: &str, date: &str) -> String {
    record(
        57,
        &[
            (1, V4),
            (2, INSURER),
            (3, insured),
            (4, date),
            (5, "1"),
            (6, "1"),
            (8, "\"予防　花子\""),
            (10, "20250401"),
            (11, "20260331"),
            (12, "11"),
            (13, "2"),
            (14, "1"),
            (20, date),
            (26, "1"),
            (43, "3"),
            (49, "1"),
            (54, "2"),
            (56, date),
        ],
    )
}

/// 支援計画書 別表 (UPYOBO_SUB): one line of the support plan.
fn plan_detail(insured: &str, date: &str) -> String {
    record(17, &[(1, V4), (2, INSURER), (3, insured), (4, date), (5, "1"), (6, "\"転倒予防\""), (10, "1"), (14, "1")])
}

/// A 支援計画書 + 利用者基本情報 unit (with every 別表) of persons A and B.
fn prevention_unit() -> Vec<BundleFileContent> {
    vec![
        file(&prevention_name("UPYOBO"), &[prevention_plan(A, "20250420"), prevention_plan(B, "20250418")]),
        file(&prevention_name("UPYOBO_SUB"), &[plan_detail(A, "20250420"), plan_detail(B, "20250418")]),
        file(&prevention_name("UPKIHON"), &[basic(A, "20250410"), basic(B, "20250411")]),
        file(&prevention_name("UPKIHON_SUB1"), &[schedule(A, "20250410"), schedule(B, "20250411")]),
        file(&prevention_name("UPKIHON_SUB2"), &[history(A, "20250410")]),
    ]
}

#[test]
fn prevention_files_read_and_write_back_byte_for_byte() {
    use kaigo_careplan::csv::{read_file, write_file};
    use kaigo_careplan::domain::kind::FormKind;
    use kaigo_careplan::domain::spec::Spec;
    let spec = Spec::embedded().unwrap();
    let mut unit = prevention_unit();
    unit.push(file(&prevention_name("DLTKIHON"), &[record(4, &[(1, V4), (2, INSURER), (3, A), (4, "20250410")])]));
    unit.push(file(&prevention_name("DLTYOBO"), &[record(4, &[(1, V4), (2, INSURER), (3, A), (4, "20250420")])]));
    let kinds = [
        FormKind::PreventionPlan,
        FormKind::PreventionPlanDetail,
        FormKind::PreventionBasic,
        FormKind::PreventionSchedule,
        FormKind::PreventionHistory,
        FormKind::PreventionBasicDelete,
        FormKind::PreventionPlanDelete,
    ];
    for (f, kind) in unit.iter().zip(kinds) {
        let outcome = read_file(&f.file_name, &f.content, &spec);
        assert!(outcome.summary.issues.is_empty(), "{}: {:#?}", f.file_name, outcome.summary.issues);
        let read = outcome.file.unwrap();
        assert_eq!(read.name.kind, kind);
        assert_eq!(read.name.sender_type.as_ref().map(|t| t.0.as_str()), Some("46"));
        let written = write_file(&read, Some(&outcome.style), &spec).unwrap();
        assert_eq!(written, f.content, "{}", f.file_name);
        // Canonical output (no recorded style) reads back to the same rows.
        let canonical = write_file(&read, None, &spec).unwrap();
        assert_eq!(read_file(&f.file_name, &canonical, &spec).file.unwrap(), read);
    }
}

#[test]
fn prevention_rows_are_checked_column_by_column() {
    use kaigo_careplan::csv::scan_file;
    use kaigo_careplan::domain::spec::Spec;
    let spec = Spec::embedded().unwrap();
    let issues = |prefix: &str, rows: &[String]| {
        let f = file(&prevention_name(prefix), rows);
        scan_file(&f.file_name, &f.content, &spec).issues.iter().map(|i| (i.line, i.column, i.code)).collect::<Vec<_>>()
    };
    let basic_a = basic(A, "20250410");
    // Line 2: the name (No.15, required by our reading) left out; 相談方法 04 is not a code; a
    // 前回相談日 after the 相談日. Line 3: 70 columns.
    let no_name = basic_a.replace("\"予防　花子\"", "");
    let bad_method = basic_a.replace(",01,,02,", ",04,,02,");
    let late = basic_a.replace(",20250301,", ",20250501,");
    let short = basic_a.rsplit_once(',').unwrap().0.to_owned();
    assert_eq!(
        issues("UPKIHON", &[basic_a.clone(), no_name, bad_method, late, short]),
        vec![(2, 15, "REQUIRED_MISSING"), (3, 8, "UNKNOWN_CODE"), (4, 11, "DATE_ORDER"), (5, 0, "COLUMN_COUNT")]
    );
    // 支援計画書: 要支援状態区分 3 is 地域支援事業, 4 is nothing; 計画種類 (No.5) is required.
    let plan = prevention_plan(A, "20250420");
    assert_eq!(issues("UPYOBO", &[plan.replace(",11,2,1,", ",11,2,4,")]), vec![(1, 14, "UNKNOWN_CODE")]);
    assert_eq!(
        issues("UPYOBO", &[plan.replacen(",20250420,1,1,", ",20250420,,1,", 1)]),
        vec![(1, 5, "REQUIRED_MISSING")]
    );
    // No.62 names the 家族構成 image after this file's own name and a 4-digit branch.
    let image = |text: &str| basic_a.replace(",\"\",", &format!(",\"{text}\","));
    let own = format!("UPKIHON_IMAGE_{CARE}_46_{PROV}_63_{SEQ}");
    assert_eq!(issues("UPKIHON", &[image(&format!("{own}_0001.jpg")), image(&format!("{own}_0002.JPG"))]), vec![]);
    let other_seq = own.replace(SEQ, "20250425103101");
    assert_eq!(
        issues(
            "UPKIHON",
            &[image(&format!("{own}_1.jpg")), image(&format!("{other_seq}_0001.jpg")), image("family.jpg")]
        ),
        vec![(1, 62, "BAD_FILE_NAME"), (2, 62, "BAD_FILE_NAME"), (3, 62, "BAD_FILE_NAME")]
    );
    // A deletion names its key: 相談日 is a date.
    assert_eq!(
        issues("DLTKIHON", &[record(4, &[(1, V4), (2, INSURER), (3, A), (4, "202504")])]),
        vec![(1, 4, "BAD_LENGTH")]
    );
    // The 介護予防 files are v4 only: a 202208 record is refused.
    assert_eq!(
        issues("UPKIHON_SUB1", &[schedule(A, "20250410").replacen(V4, "202208", 1)]),
        vec![(1, 1, "VERSION_LAYOUT_MISMATCH")]
    );
}

#[tokio::test]
async fn prevention_units_keep_their_files_and_keys() {
    let server = TestServer::start().await;
    let response = validate(&server, prevention_unit(), SendUnitKind::PreventionPlanWithBasic).await;
    assert!(response.valid, "{:#?}", response.issues);
    // The 別表 are optional; the parents are not.
    let unit = prevention_unit();
    let response = validate(&server, vec![unit[0].clone()], SendUnitKind::PreventionPlan).await;
    assert!(response.valid, "{:#?}", response.issues);
    let response = validate(&server, vec![unit[2].clone(), unit[3].clone()], SendUnitKind::PreventionBasic).await;
    assert!(response.valid, "{:#?}", response.issues);
    let response =
        validate(&server, vec![unit[0].clone(), unit[1].clone()], SendUnitKind::PreventionPlanWithBasic).await;
    let codes: Vec<_> = errors(&response).into_iter().map(|(_, _, _, code)| code).collect();
    assert_eq!(codes, vec!["MISSING_REQUIRED_FILE"]);
    // A 支援計画書 does not travel in a 利用者基本情報 unit.
    let response = validate(&server, vec![unit[2].clone(), unit[0].clone()], SendUnitKind::PreventionBasic).await;
    let codes: Vec<_> = errors(&response).into_iter().map(|(_, line, _, code)| (line, code)).collect();
    assert_eq!(codes, vec![(0, "UNEXPECTED_FILE".to_owned())]);
    // Under 委託 a 地域包括支援センター (46) and a 居宅介護支援事業所 (43) exchange the plan both
    // ways; a 予定 unit still goes to a provider only.
    let to_care = |files: &[BundleFileContent]| {
        files
            .iter()
            .map(|f| BundleFileContent {
                file_name: f.file_name.replace(&format!("_{PROV}_63_"), &format!("_{PROV}_43_")),
                content: f.content.clone(),
            })
            .collect::<Vec<_>>()
    };
    let response = validate(&server, to_care(&prevention_unit()), SendUnitKind::PreventionPlanWithBasic).await;
    assert!(response.valid, "{:#?}", response.issues);
    let response = validate(&server, to_care(&prevention_unit()[..1]), SendUnitKind::PreventionPlan).await;
    assert!(response.valid, "{:#?}", response.issues);
    // 別表 records join their parent by person and 相談日 / 計画作成(変更)日.
    let mut unit = prevention_unit();
    unit[1] = file(&unit[1].file_name.clone(), &[plan_detail(A, "20250420"), plan_detail(B, "20250419")]);
    unit[4] = file(&unit[4].file_name.clone(), &[history(C, "20250410")]);
    let response = validate(&server, unit.clone(), SendUnitKind::PreventionPlanWithBasic).await;
    assert_eq!(
        errors(&response),
        vec![
            (unit[4].file_name.clone(), 1, 0, "SET_WITHOUT_PARENT".to_owned()),
            (unit[1].file_name.clone(), 2, 0, "SET_WITHOUT_PARENT".to_owned()),
        ]
    );
    server.shutdown().await;
}

/// A 介護予防 unit goes from the care office (46) to the provider and arrives byte for byte; it
/// carries no service month.
#[tokio::test]
async fn a_prevention_plan_is_exchanged_like_the_others() {
    use crate::exchange::download;
    use kaigo_proto::kaigo::careplan::v1::{Bundle, ListInboxRequest, SendBundleRequest};
    use kaigo_proto::kaigo::common::v1::YearMonth;
    let server = TestServer::start().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (mut prov, _) = licensed(&server, Role::ServiceProvider, PROV).await;
    let bundle = |month: Option<YearMonth>| Bundle {
        sender_office_number: CARE.to_owned(),
        sender_service_type: "46".to_owned(),
        receiver_office_number: PROV.to_owned(),
        receiver_service_type: "63".to_owned(),
        service_month: month,
        kind: SendUnitKind::PreventionPlanWithBasic as i32,
        file_sequence: SEQ.to_owned(),
        ..Bundle::default()
    };
    let files = prevention_unit();
    // A service month is refused for a 介護予防 unit.
    let err = care
        .send_bundle(SendBundleRequest {
            request_id: rid(),
            bundle: Some(bundle(Some(YearMonth { year: 2025, month: 5 }))),
            files: files.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let fields: Vec<_> =
        err.get_error_details().bad_request().unwrap().field_violations.iter().map(|v| v.field.clone()).collect();
    assert_eq!(fields, vec!["bundle.service_month"]);
    let sent = care
        .send_bundle(SendBundleRequest { request_id: rid(), bundle: Some(bundle(None)), files: files.clone() })
        .await
        .unwrap()
        .into_inner()
        .bundle
        .unwrap();
    assert_eq!(sent.person_count, 2);
    assert_eq!(sent.service_month, None);
    let inbox = prov.list_inbox(ListInboxRequest::default()).await.unwrap().into_inner();
    let ids: Vec<_> = inbox.bundles.iter().map(|b| (b.bundle_id.clone(), b.kind)).collect();
    assert_eq!(ids, vec![(sent.bundle_id.clone(), SendUnitKind::PreventionPlanWithBasic as i32)]);
    // Under 委託 the plan goes to a 居宅介護支援事業所 (43), a care office: accepted for 予防 units.
    let (mut consigned, _) = licensed(&server, Role::CareOffice, OTHER).await;
    let to_other: Vec<_> = files
        .iter()
        .map(|f| BundleFileContent {
            file_name: f.file_name.replace(&format!("_{PROV}_63_"), &format!("_{OTHER}_43_")),
            content: f.content.clone(),
        })
        .collect();
    let mut consigned_bundle = bundle(None);
    consigned_bundle.receiver_office_number = OTHER.to_owned();
    consigned_bundle.receiver_service_type = "43".to_owned();
    let to_consigned = care
        .send_bundle(SendBundleRequest { request_id: rid(), bundle: Some(consigned_bundle), files: to_other })
        .await
        .unwrap()
        .into_inner()
        .bundle
        .unwrap();
    let inbox = consigned.list_inbox(ListInboxRequest::default()).await.unwrap().into_inner();
    assert_eq!(inbox.bundles.iter().map(|b| b.bundle_id.clone()).collect::<Vec<_>>(), vec![to_consigned.bundle_id]);
    let (_, downloaded) = download(&mut prov, &sent.bundle_id).await;
    let expected: Vec<_> = files.iter().map(|f| (f.file_name.clone(), f.content.clone())).collect();
    let mut got = downloaded;
    got.sort();
    let mut want = expected;
    want.sort();
    assert_eq!(got, want);
    server.shutdown().await;
}
