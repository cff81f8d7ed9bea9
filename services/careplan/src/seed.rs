//! Demo data of `kaigo dev`: a care office and a provider, each registered with an active paid
//! licence, so a bundle can be sent at once. The golden files' two offices are registered too,
//! so `tests/golden/valid` can be sent as they are. Idempotent: an office that already has an
//! active licence is left alone.
//!
//! And a plan for demo person 435073:0000000001, sent by the demo care office to the demo
//! provider as its software would: the plan (第1表, 第2表, 第3表, 補足) made on the first of the
//! current month and that month's 予定 (第6表, 第7表, 補足), so that the medical institution's
//! 介護情報の閲覧 (GetCarePlanSummary; the person consented to it in the registry's demo data)
//! shows a plan. The files depend on the month only: a second run that month sends the same
//! units, which the exchange answers with the first (nothing new is stored).

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::careplan::v1 as pb;
use sea_orm::DatabaseConnection;

use crate::api::licences::{claim_office, period, record_period};
use crate::domain::licence::{self, LicenceRules};
use crate::domain::spec::Spec;
use crate::store;

/// The demo 居宅介護支援事業所 (check digit valid).
pub const DEMO_CARE_OFFICE: &str = "4371000128";
/// The demo サービス事業所 (check digit valid).
pub const DEMO_PROVIDER: &str = "4371000201";

/// (office number, registry role, name) of every demo office.
pub const DEMO_OFFICES: [(&str, &str, &str); 4] = [
    (DEMO_CARE_OFFICE, "care_office", "デモ居宅介護支援事業所"),
    (DEMO_PROVIDER, "provider", "デモ訪問介護事業所"),
    ("1370000018", "care_office", "ゴールデンファイル居宅介護支援事業所"),
    ("1370000026", "provider", "ゴールデンファイル訪問介護事業所"),
];

/// Registers the demo offices with a paid year from today (by `clock`) where none is active.
pub async fn seed(
    conn: &DatabaseConnection,
    rules: &LicenceRules,
    clock: &dyn Clock,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let now = clock.now();
    let today = kaigo_platform::time::jst_date(now);
    for (number, role, name) in DEMO_OFFICES {
        let tx = kaigo_platform::db::begin_write(conn).await?;
        let periods: Vec<_> = store::licence_periods(&tx, number).await?.iter().filter_map(period).collect();
        if licence::status(&periods, today) == licence::Status::Active {
            continue;
        }
        let version = store::get_office(&tx, number).await?.map_or(0, |o| o.version);
        claim_office(&tx, number, version, Some(role), name, now).await.map_err(|e| format!("{e:?}"))?;
        let year = licence::paid_year(&periods, None, today, rules);
        record_period(&tx, number, &year, "demo", now).await.map_err(|e| format!("{e:?}"))?;
        tx.commit().await?;
    }
    Ok(())
}

/// The demo person whose plan the seed sends (保険者番号, 被保険者番号).
pub const DEMO_PLAN_PERSON: (&str, &str) = ("435073", "0000000001");

/// CSVバージョン of the demo files (v4.1).
const V4: &str = "202407";

/// One record of `columns` fields: empty except those given (1-based No. → text); free text is
/// given with its quotes.
fn record(columns: usize, values: &[(usize, String)]) -> String {
    let mut fields = vec![String::new(); columns];
    for (no, text) in values {
        fields[no - 1].clone_from(text);
    }
    fields.join(",")
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// A file of `records`, MS932 with CRLF after each.
fn file(name: String, records: &[String]) -> Result<pb::BundleFileContent, Box<dyn std::error::Error + Send + Sync>> {
    let text: String = records.iter().map(|r| format!("{r}\r\n")).collect();
    let mut content = Vec::new();
    crate::csv::encode(&text, &mut content).map_err(|e| format!("demo file {name}: {e:?}"))?;
    Ok(pb::BundleFileContent { file_name: name, content })
}

/// The 利用者補足情報 of the demo person for a 第1表 set (`plan_date`, month `000000`) or a
/// 第6表 set (`00000000`, `month`).
fn supplement(plan_date: &str, month: &str) -> String {
    let (insurer, insured) = DEMO_PLAN_PERSON;
    let v = |no, t: &str| (no, t.to_owned());
    record(
        63,
        &[
            v(1, V4),
            v(2, insurer),
            v(3, insured),
            v(4, plan_date),
            (5, quoted("デモ　イチロウ")),
            (6, quoted("デモ　一郎")),
            v(7, "1"),
            v(8, "19400105"),
            v(16, "2"),
            v(18, "22"),
            v(19, "19705"),
            v(60, DEMO_CARE_OFFICE),
            v(61, DEMO_CARE_OFFICE),
            v(63, month),
        ],
    )
}

/// The demo plan unit and 予定 unit of `month` (the plan made on its first day), as
/// SendBundle requests of the demo care office to the demo provider.
pub fn demo_plan_units(
    month: NaiveDate,
) -> Result<[pb::SendBundleRequest; 2], Box<dyn std::error::Error + Send + Sync>> {
    let (insurer, insured) = DEMO_PLAN_PERSON;
    let first = month.with_day(1).ok_or("the first of the month")?;
    let plan_date = first.format("%Y%m%d").to_string();
    let ym = first.format("%Y%m").to_string();
    let v = |no, t: &str| (no, t.to_owned());
    let person = |cells: &mut Vec<(usize, String)>| {
        cells.splice(0..0, [v(1, V4), v(2, insurer), v(3, insured)]);
    };
    let names = |prefix: &str, seq: &str| format!("{prefix}_{DEMO_CARE_OFFICE}_43_{DEMO_PROVIDER}_11_{seq}.CSV");

    // The plan: 第1表, two needs of 第2表, the weekly slots of 第3表, the supplement.
    let plan_seq = format!("{plan_date}090000");
    let mut table1 = vec![
        v(4, &plan_date),
        (8, quoted("介護　花子")),
        (9, quoted("デモ居宅介護支援事業所")),
        v(13, DEMO_CARE_OFFICE),
        v(14, &plan_date),
        v(15, "20240401"),
        v(16, "21"),
        v(17, "2"),
        v(21, "22"),
        (22, quoted("本人：自宅で妻と暮らし続けたい。家族：入浴と服薬の見守りを手伝ってほしい。")),
        (24, quoted("入浴と服薬を支え、転倒を防いで在宅生活を続ける。心不全の悪化の兆しは主治医に連絡する。")),
    ];
    person(&mut table1);
    let table2_rows: [&[(usize, String)]; 3] = [
        &[
            v(6, "1"),
            (7, quoted("一人での入浴が難しい")),
            v(8, "1"),
            (9, quoted("安全に入浴を続けられる")),
            (10, quoted("週２回、介助を受けて入浴する")),
            (11, quoted("6か月")),
            (12, quoted("3か月")),
            v(13, "1"),
            (14, quoted("入浴介助")),
            v(15, "Y"),
            (16, quoted("訪問介護")),
            v(17, DEMO_PROVIDER),
            (18, quoted("デモ訪問介護事業所")),
            (19, quoted("週２回")),
            (20, quoted("3か月")),
        ],
        &[
            v(6, "2"),
            (7, quoted("薬の飲み忘れがある")),
            v(8, "1"),
            (9, quoted("決められた薬を飲み続けられる")),
            (10, quoted("服薬の確認を受ける")),
            (11, quoted("6か月")),
            (12, quoted("3か月")),
            v(13, "1"),
            (14, quoted("服薬確認")),
            v(15, "Y"),
            (16, quoted("訪問介護")),
            v(17, DEMO_PROVIDER),
            (18, quoted("デモ訪問介護事業所")),
            (19, quoted("週２回")),
            (20, quoted("3か月")),
        ],
        &[
            v(6, "2"),
            v(8, "1"),
            v(13, "2"),
            (14, quoted("朝夕の声かけ")),
            v(15, "N"),
            (16, quoted("家族")),
            (19, quoted("毎日")),
        ],
    ];
    let table2: Vec<String> = table2_rows
        .iter()
        .map(|cells| {
            let mut cells = [vec![v(4, &plan_date), v(5, &plan_date)], cells.to_vec()].concat();
            person(&mut cells);
            record(22, &cells)
        })
        .collect();
    let table3: Vec<String> = [("1", "1000", "1100"), ("4", "1400", "1445")]
        .iter()
        .map(|(day, start, end)| {
            let mut cells =
                vec![v(4, &plan_date), v(5, &plan_date), (6, quoted("訪問介護")), v(7, day), v(8, start), v(9, end)];
            person(&mut cells);
            record(13, &cells)
        })
        .collect();
    let plan = pb::SendBundleRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        bundle: Some(address(pb::SendUnitKind::Plan, &plan_seq, None)),
        files: vec![
            file(names("UP1KYO", &plan_seq), &[record(28, &table1)])?,
            file(names("UP2KYO", &plan_seq), &table2)?,
            file(names("UP3KYO", &plan_seq), &table3)?,
            file(names("UPHOSOKU_000000", &plan_seq), &[supplement(&plan_date, "000000")])?,
        ],
    };

    // The month's 予定: 訪問介護 on four days at 10:00 and four at 14:00, with its 第7表.
    let usage_seq = format!("{plan_date}090100");
    let mut usage_rows = Vec::new();
    for (days, start, end) in [([3, 10, 17, 24], "1000", "1100"), ([6, 13, 20, 27], "1400", "1445")] {
        for day in days {
            let mut cells = vec![
                v(4, &plan_date),
                v(5, &ym),
                v(6, DEMO_CARE_OFFICE),
                (7, quoted("介護　花子")),
                v(8, "387"),
                v(10, &format!("{ym}{day:02}")),
                v(12, start),
                v(13, end),
                v(14, "1"),
                v(15, "111211"),
                v(20, DEMO_PROVIDER),
                (21, quoted("デモ訪問介護事業所")),
                v(23, "0"),
            ];
            person(&mut cells);
            usage_rows.push(record(25, &cells));
        }
    }
    let mut detail = vec![
        v(4, &plan_date),
        v(5, &ym),
        (6, quoted("デモ訪問介護事業所")),
        v(7, DEMO_PROVIDER),
        v(9, "111211"),
        v(13, "387"),
        v(16, "8"),
        v(33, "0"),
    ];
    person(&mut detail);
    let mut total = vec![v(4, &plan_date), v(5, &ym), v(7, "9999999999"), v(9, "999999"), v(13, "0"), v(33, "0")];
    person(&mut total);
    let (year, mon) = (first.year(), first.month());
    let usage = pb::SendBundleRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        bundle: Some(address(
            pb::SendUnitKind::UsageTicket,
            &usage_seq,
            Some(kaigo_proto::kaigo::common::v1::YearMonth { year, month: i32::try_from(mon).unwrap_or(1) }),
        )),
        files: vec![
            file(format!("UPPLAN_{ym}_{}", &names("", &usage_seq)[1..]), &usage_rows)?,
            file(format!("UPSIKYU_{ym}_{}", &names("", &usage_seq)[1..]), &[record(37, &detail), record(37, &total)])?,
            file(format!("UPHOSOKU_{ym}_{}", &names("", &usage_seq)[1..]), &[supplement("00000000", &ym)])?,
        ],
    };
    Ok([plan, usage])
}

fn address(kind: pb::SendUnitKind, seq: &str, month: Option<kaigo_proto::kaigo::common::v1::YearMonth>) -> pb::Bundle {
    pb::Bundle {
        sender_office_number: DEMO_CARE_OFFICE.to_owned(),
        sender_service_type: "43".to_owned(),
        receiver_office_number: DEMO_PROVIDER.to_owned(),
        receiver_service_type: "11".to_owned(),
        service_month: month,
        kind: kind as i32,
        file_sequence: seq.to_owned(),
        ..pb::Bundle::default()
    }
}

/// Sends the demo plan and this month's 予定 as the demo care office (after [`seed`] licensed
/// it); a second run the same month stores nothing new.
pub async fn seed_plan(
    conn: &DatabaseConnection,
    spec: &Arc<Spec>,
    clock: &dyn Clock,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let caller = Caller {
        subject: "system:kaigo-dev".to_owned(),
        role: Role::CareOffice,
        insurer: None,
        office: Some(CareOfficeNumber::parse(DEMO_CARE_OFFICE)?),
        institution: None,
        scopes: Vec::new(),
        consents: Vec::new(),
    };
    for unit in demo_plan_units(clock.today_jst())? {
        crate::api::send_with(conn, spec, clock, &caller, unit).await.map_err(|e| format!("demo plan: {e:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_units_are_valid_in_any_month() {
        let spec = Spec::embedded().unwrap();
        for month in [NaiveDate::from_ymd_opt(2026, 2, 14).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()] {
            let units = demo_plan_units(month).unwrap();
            for unit in &units {
                let kind =
                    pb::SendUnitKind::try_from(unit.bundle.as_ref().unwrap().kind).ok().and_then(crate::api::unit_kind);
                let checked = crate::api::validate_files(&spec, &unit.files, kind);
                assert!(checked.valid, "{month}: {:?}", checked.issues);
            }
            // The same month gives the same files (a rerun is the same unit).
            let again = demo_plan_units(month).unwrap();
            assert_eq!(units[1].files, again[1].files);
        }
    }
}
