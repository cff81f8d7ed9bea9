//! One person's care plan in summary (GetCarePlanSummary, docs/domain/careplan-csv.md#summary):
//! the plan of 第1表 and 第2表 and the services of a month from 第6表 予定, picked from the send
//! units exchanged for the person, newest first. Plain functions over parsed files: the api
//! hands the units in one by one and stops as soon as [`Finder::done`].
//!
//! - **The plan** is the newest plan unit holding a 第1表 of the person made (作成（変更）日) on
//!   or before the month's last day whose plan date no newer 第1表_削除 withdrew; within that
//!   unit, the latest such plan date. Its 第2表 rows are those of the same plan date, in print
//!   order (課題ＮＯ, 援助目標ＮＯ, 援助内容ＮＯ), blank 課題 and 目標 text carried forward from the
//!   row before as on the printed form (#table2).
//! - **The services** come from the newest 予定 unit of the month with 第6表 rows of the person,
//!   unless a newer 第6表_削除 of the month withdrew the person's month: grouped by provider,
//!   service code and time of day, with the days and the count of the month.
//!
//! A resend of a plan or 予定 replaces the earlier one (#deletion): the newest unit wins.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::forms::{Plan1Row, Plan2Row, UsageRow};
use super::kind::UnitKind;
use super::model::{CarePlanFile, Records};
use super::values::{ServiceTime, YearMonth};

/// Where a part of the summary came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub bundle_id: String,
    pub sender_office: String,
    pub sent_at: DateTime<Utc>,
}

/// The plan: its 第1表 row and the needs of its 第2表.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub source: Source,
    pub table1: Plan1Row,
    pub needs: Vec<Need>,
}

/// A need (課題) with its goals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub number: u64,
    pub text: String,
    pub goals: Vec<Goal>,
}

/// A goal (援助目標) with the support planned for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goal {
    pub number: u64,
    pub long_term: String,
    pub long_term_period: String,
    pub short_term: String,
    pub short_term_period: String,
    pub supports: Vec<Support>,
}

/// One 援助内容 row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    pub number: u64,
    pub content: String,
    pub insurance_covered: bool,
    pub kind: String,
    pub provider_number: String,
    pub provider_name: String,
    pub frequency: String,
    pub duration: String,
}

/// The month's services of one provider, service code and time of day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthService {
    pub provider_number: String,
    pub provider_name: String,
    pub service_code: String,
    /// HHMM, or `None` for a service without a time (9999).
    pub start: Option<String>,
    pub end: Option<String>,
    pub days: Vec<u32>,
    pub times: u64,
}

/// The month's 予定: where it came from and its services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub source: Source,
    /// プラン担当業者コード of the person's rows, or the sending office.
    pub plan_office: String,
    pub created_on: Option<NaiveDate>,
    pub services: Vec<MonthService>,
}

/// Walks the units of one person, newest first, and keeps what the summary needs.
#[derive(Debug, Clone)]
pub struct Finder {
    insurer: String,
    insured: String,
    month: YearMonth,
    /// Plan dates a newer 第1表_削除 withdrew.
    deleted_plans: BTreeSet<NaiveDate>,
    /// A newer 第6表_削除 withdrew the person's month.
    usage_deleted: bool,
    pub plan: Option<Plan>,
    pub usage: Option<Usage>,
}

/// The last day of `month`.
pub fn month_end(month: YearMonth) -> NaiveDate {
    let (y, m) = if month.month == 12 { (month.year + 1, 1) } else { (month.year, month.month + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MAX)
}

impl Finder {
    /// A finder for the person `insurer` + `insured` and the month `month`.
    pub fn new(insurer: &str, insured: &str, month: YearMonth) -> Self {
        Self {
            insurer: insurer.to_owned(),
            insured: insured.to_owned(),
            month,
            deleted_plans: BTreeSet::new(),
            usage_deleted: false,
            plan: None,
            usage: None,
        }
    }

    /// The unit kinds still worth reading: the plan's while no plan is found, the month's
    /// while neither its 予定 nor its deletion was seen.
    pub fn wants(&self, kind: UnitKind) -> bool {
        match kind {
            UnitKind::Plan | UnitKind::PlanDelete => self.plan.is_none(),
            UnitKind::UsageTicket | UnitKind::UsageTicketDelete => self.usage.is_none() && !self.usage_deleted,
            _ => false,
        }
    }

    /// True when nothing older can change the summary.
    pub fn done(&self) -> bool {
        !self.wants(UnitKind::Plan) && !self.wants(UnitKind::UsageTicket)
    }

    fn is_person(&self, insurer: &str, insured: &str) -> bool {
        insurer == self.insurer && insured == self.insured
    }

    /// Takes the next older unit of kind `kind` with its parsed files.
    pub fn take(&mut self, kind: UnitKind, source: &Source, files: &[CarePlanFile]) {
        if !self.wants(kind) {
            return;
        }
        match kind {
            UnitKind::PlanDelete => {
                for file in files {
                    if let Records::Plan1Delete(rows) = &file.records {
                        let dates: Vec<NaiveDate> = rows
                            .iter()
                            .filter(|r| self.is_person(r.insurer_number.as_str(), r.insured_number.as_str()))
                            .map(|r| r.plan_date.0)
                            .collect();
                        self.deleted_plans.extend(dates);
                    }
                }
            }
            UnitKind::Plan => self.take_plan(source, files),
            UnitKind::UsageTicketDelete => {
                let month = self.month;
                let withdrawn = files.iter().any(|f| match &f.records {
                    Records::UsageDelete(rows) => rows.iter().any(|r| {
                        self.is_person(r.insurer_number.as_str(), r.insured_number.as_str()) && r.month == month
                    }),
                    _ => false,
                });
                self.usage_deleted |= withdrawn;
            }
            UnitKind::UsageTicket => self.take_usage(source, files),
            _ => {}
        }
    }

    fn take_plan(&mut self, source: &Source, files: &[CarePlanFile]) {
        let last_day = month_end(self.month);
        let table1 = files
            .iter()
            .filter_map(|f| match &f.records {
                Records::Plan1(rows) => Some(rows),
                _ => None,
            })
            .flatten()
            .filter(|r| self.is_person(r.insurer_number.as_str(), r.insured_number.as_str()))
            .filter(|r| r.plan_date.0 <= last_day && !self.deleted_plans.contains(&r.plan_date.0))
            .max_by_key(|r| r.plan_date);
        let Some(table1) = table1 else { return };
        let rows: Vec<&Plan2Row> = files
            .iter()
            .filter_map(|f| match &f.records {
                Records::Plan2(rows) => Some(rows),
                _ => None,
            })
            .flatten()
            .filter(|r| self.is_person(r.insurer_number.as_str(), r.insured_number.as_str()))
            .filter(|r| r.plan_date == table1.plan_date)
            .collect();
        self.plan = Some(Plan { source: source.clone(), table1: table1.clone(), needs: needs(&rows) });
    }

    fn take_usage(&mut self, source: &Source, files: &[CarePlanFile]) {
        let month = self.month;
        let rows: Vec<&UsageRow> = files
            .iter()
            .filter_map(|f| match &f.records {
                Records::Usage(rows) => Some(rows),
                _ => None,
            })
            .flatten()
            .filter(|r| self.is_person(r.insurer_number.as_str(), r.insured_number.as_str()))
            .filter(|r| r.service_month == month)
            .collect();
        let Some(first) = rows.first() else { return };
        let plan_office =
            first.plan_office.as_ref().map_or_else(|| source.sender_office.clone(), |o| o.as_str().to_owned());
        self.usage = Some(Usage {
            source: source.clone(),
            plan_office,
            created_on: Some(first.created_on.0),
            services: month_services(&rows),
        });
    }
}

fn text(value: Option<&super::values::FreeText>) -> String {
    value.map(|t| t.0.trim().to_owned()).unwrap_or_default()
}

/// The needs of one plan's 第2表 rows: print order, blank 課題 and 目標 carried forward.
pub fn needs(rows: &[&Plan2Row]) -> Vec<Need> {
    let mut ordered: Vec<&Plan2Row> = rows.to_vec();
    // Stable: rows without numbers keep the file's order.
    let no = |v: &Option<super::values::Count<2>>| v.map_or(0, |c| c.0);
    ordered.sort_by_key(|r| (no(&r.need_no), no(&r.goal_no), no(&r.support_no)));
    let mut needs: Vec<Need> = Vec::new();
    for row in ordered {
        let (need_no, goal_no) = (no(&row.need_no), no(&row.goal_no));
        let need_text = text(row.need.as_ref());
        // A new need: another number, or (unnumbered) new text.
        let same_need = needs
            .last()
            .is_some_and(|n| n.number == need_no && (need_no != 0 || need_text.is_empty() || need_text == n.text));
        if !same_need {
            needs.push(Need { number: need_no, text: need_text.clone(), goals: Vec::new() });
        }
        let Some(need) = needs.last_mut() else { continue };
        if need.text.is_empty() {
            need.text = need_text;
        }
        let long_term = text(row.long_term_goal.as_ref());
        let short_term = text(row.short_term_goal.as_ref());
        let same_goal = need.goals.last().is_some_and(|g| {
            g.number == goal_no
                && (goal_no != 0
                    || (long_term.is_empty() || long_term == g.long_term)
                        && (short_term.is_empty() || short_term == g.short_term))
        });
        if !same_goal {
            need.goals.push(Goal {
                number: goal_no,
                long_term: String::new(),
                long_term_period: String::new(),
                short_term: String::new(),
                short_term_period: String::new(),
                supports: Vec::new(),
            });
        }
        let Some(goal) = need.goals.last_mut() else { continue };
        for (slot, value) in [
            (&mut goal.long_term, long_term),
            (&mut goal.short_term, short_term),
            (&mut goal.long_term_period, text(row.long_term_period.as_ref())),
            (&mut goal.short_term_period, text(row.short_term_period.as_ref())),
        ] {
            if slot.is_empty() {
                *slot = value;
            }
        }
        let support = Support {
            number: no(&row.support_no),
            content: text(row.service_content.as_ref()),
            insurance_covered: row.insurance_covered == Some(super::codes::InsuranceCovered::Covered),
            kind: text(row.service_kind.as_ref()),
            provider_number: row.provider_number.as_ref().map(|o| o.as_str().to_owned()).unwrap_or_default(),
            provider_name: text(row.provider_name.as_ref()),
            frequency: text(row.frequency.as_ref()),
            duration: text(row.duration.as_ref()),
        };
        let empty = support.content.is_empty()
            && support.kind.is_empty()
            && support.provider_number.is_empty()
            && support.provider_name.is_empty()
            && support.frequency.is_empty();
        if !empty {
            goal.supports.push(support);
        }
    }
    needs
}

fn hhmm(time: ServiceTime) -> Option<String> {
    match time {
        ServiceTime::NoTime => None,
        ServiceTime::At(t) => Some(format!("{:02}{:02}", t.hour, t.minute)),
    }
}

/// The 第6表 rows of one person and month, grouped by provider, service code and time of day;
/// ordered by provider, then first day, then start time.
pub fn month_services(rows: &[&UsageRow]) -> Vec<MonthService> {
    type Key = (String, String, Option<String>, Option<String>);
    let mut groups: BTreeMap<Key, MonthService> = BTreeMap::new();
    for row in rows {
        let key = (
            row.provider_number.as_str().to_owned(),
            row.service_code.0.clone(),
            hhmm(row.start_time),
            hhmm(row.end_time),
        );
        let entry = groups.entry(key.clone()).or_insert_with(|| MonthService {
            provider_number: key.0.clone(),
            provider_name: String::new(),
            service_code: key.1.clone(),
            start: key.2.clone(),
            end: key.3.clone(),
            days: Vec::new(),
            times: 0,
        });
        if entry.provider_name.is_empty() {
            entry.provider_name = text(row.provider_name.as_ref());
        }
        entry.days.push(row.service_date.0.day());
        entry.times += row.times.0;
    }
    let mut services: Vec<MonthService> = groups
        .into_values()
        .map(|mut s| {
            s.days.sort_unstable();
            s.days.dedup();
            s
        })
        .collect();
    services.sort_by(|a, b| {
        (&a.provider_number, a.days.first(), &a.start).cmp(&(&b.provider_number, b.days.first(), &b.start))
    });
    services
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::file_name::FileName;
    use crate::domain::forms::{Plan1DeleteRow, UsageDeleteRow};
    use crate::domain::row::Row;

    const INSURER: &str = "435073";
    const ME: &str = "0000000001";
    const OTHER: &str = "0000000002";

    fn row<R: Row>(cells: &[(usize, &str)], columns: usize) -> R {
        let mut all = vec![""; columns];
        for (no, text) in cells {
            all[no - 1] = text;
        }
        R::from_cells(&all).unwrap_or_else(|e| panic!("a valid row: {e:?}"))
    }

    fn file(records: Records) -> CarePlanFile {
        // The name is not read by the finder; any parsed name will do.
        let spec = crate::domain::spec::Spec::embedded().unwrap();
        let name = FileName::parse("UP1KYO_1370000018_43_1370000026_11_20250425103000.CSV", &spec).unwrap();
        CarePlanFile { name, records }
    }

    fn plan1(insured: &str, plan_date: &str, policy: &str) -> Plan1Row {
        row(
            &[
                (1, "202407"),
                (2, INSURER),
                (3, insured),
                (4, plan_date),
                (8, "介護　支援子"),
                (9, "みずかみ居宅介護支援センター"),
                (13, "1370000018"),
                (14, plan_date),
                (15, "20230401"),
                (24, policy),
            ],
            28,
        )
    }

    fn plan2(insured: &str, plan_date: &str, cells: &[(usize, &str)]) -> Plan2Row {
        let mut all = vec![(1, "202407"), (2, INSURER), (3, insured), (4, plan_date), (5, plan_date)];
        all.extend_from_slice(cells);
        row(&all, 22)
    }

    fn usage(insured: &str, month: &str, day: &str, code: &str, start: &str) -> UsageRow {
        let date = format!("{month}{day}");
        row(
            &[
                (1, "202407"),
                (2, INSURER),
                (3, insured),
                (4, "20250425"),
                (5, month),
                (6, "1370000018"),
                (10, &date),
                (12, start),
                (13, if start == "9999" { "9999" } else { "1100" }),
                (14, "1"),
                (15, code),
                (20, "1370000026"),
                (21, "みずかみヘルパーステーション"),
                (23, "0"),
            ],
            25,
        )
    }

    fn source(id: &str) -> Source {
        Source { bundle_id: id.to_owned(), sender_office: "1370000018".to_owned(), sent_at: DateTime::UNIX_EPOCH }
    }

    fn may() -> YearMonth {
        YearMonth::new(2025, 5).unwrap()
    }

    #[test]
    fn month_end_knows_february_and_december() {
        assert_eq!(month_end(YearMonth::new(2024, 2).unwrap()), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        assert_eq!(month_end(YearMonth::new(2025, 12).unwrap()), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
    }

    #[test]
    fn second_table_rows_carry_blank_need_and_goal_text_forward_in_print_order() {
        let rows = [
            plan2(
                ME,
                "20250420",
                &[
                    (6, "2"),
                    (7, "転倒の不安"),
                    (8, "1"),
                    (9, "転ばずに歩ける"),
                    (13, "1"),
                    (14, "手すり貸与"),
                    (15, "Y"),
                ],
            ),
            plan2(ME, "20250420", &[(6, "1"), (8, "1"), (13, "2"), (14, "見守り（家族）"), (16, "家族")]),
            plan2(
                ME,
                "20250420",
                &[
                    (6, "1"),
                    (7, "一人で入浴ができない"),
                    (8, "1"),
                    (9, "安全に入浴できる"),
                    (10, "週３回入浴する"),
                    (13, "1"),
                    (14, "入浴介助"),
                    (15, "Y"),
                    (17, "1370000026"),
                ],
            ),
        ];
        let refs: Vec<&Plan2Row> = rows.iter().collect();
        let needs = needs(&refs);
        assert_eq!(
            needs.iter().map(|n| (n.number, n.text.as_str())).collect::<Vec<_>>(),
            [(1, "一人で入浴ができない"), (2, "転倒の不安")]
        );
        let goal = &needs[0].goals[0];
        assert_eq!((goal.long_term.as_str(), goal.short_term.as_str()), ("安全に入浴できる", "週３回入浴する"));
        assert_eq!(
            goal.supports.iter().map(|s| s.content.as_str()).collect::<Vec<_>>(),
            ["入浴介助", "見守り（家族）"]
        );
        assert!(goal.supports[0].insurance_covered && !goal.supports[1].insurance_covered);
        assert_eq!(goal.supports[0].provider_number, "1370000026");
        assert_eq!(needs[1].goals[0].supports[0].content, "手すり貸与");
    }

    #[test]
    fn the_newest_plan_made_by_the_months_end_is_taken_unless_a_newer_deletion_withdrew_it() {
        let mut finder = Finder::new(INSURER, ME, may());
        // Newest first: a deletion of the May plan, then a unit with a June and a May plan.
        let deletion: Plan1DeleteRow = row(&[(1, "202407"), (2, INSURER), (3, ME), (4, "20250510")], 4);
        finder.take(UnitKind::PlanDelete, &source("d"), &[file(Records::Plan1Delete(vec![deletion]))]);
        assert!(finder.plan.is_none() && finder.wants(UnitKind::Plan));
        let newer =
            vec![plan1(ME, "20250601", "六月"), plan1(ME, "20250510", "削除済み"), plan1(OTHER, "20250501", "他人")];
        finder.take(UnitKind::Plan, &source("b2"), &[file(Records::Plan1(newer))]);
        assert!(finder.plan.is_none(), "June is after May's end, May's was deleted, the other is not the person");
        let older = vec![plan1(ME, "20250401", "四月"), plan1(ME, "20250420", "四月改定")];
        let rows2 = vec![
            plan2(ME, "20250420", &[(6, "1"), (7, "課題"), (8, "1"), (9, "長期"), (13, "1"), (14, "内容")]),
            plan2(ME, "20250401", &[(6, "1"), (7, "古い課題")]),
        ];
        finder.take(UnitKind::Plan, &source("b1"), &[file(Records::Plan1(older)), file(Records::Plan2(rows2))]);
        let plan = finder.plan.clone().unwrap();
        assert_eq!(plan.source.bundle_id, "b1");
        assert_eq!(plan.table1.policy.as_ref().map(|p| p.0.as_str()), Some("四月改定"));
        assert_eq!(plan.needs.len(), 1);
        assert_eq!(plan.needs[0].text, "課題");
        // Found: older plan units are no longer wanted; the month still is.
        assert!(!finder.wants(UnitKind::Plan) && finder.wants(UnitKind::UsageTicket) && !finder.done());
        finder.take(UnitKind::Plan, &source("b0"), &[file(Records::Plan1(vec![plan1(ME, "20250415", "x")]))]);
        assert_eq!(finder.plan.unwrap().source.bundle_id, "b1");
    }

    #[test]
    fn the_months_services_come_from_its_newest_usage_ticket_grouped_by_provider_code_and_time() {
        let mut finder = Finder::new(INSURER, ME, may());
        let rows = vec![
            usage(ME, "202505", "14", "111211", "1000"),
            usage(ME, "202505", "07", "111211", "1000"),
            usage(ME, "202505", "07", "111211", "1000"),
            usage(ME, "202505", "01", "171001", "9999"),
            usage(OTHER, "202505", "02", "111211", "1000"),
        ];
        finder.take(UnitKind::UsageTicket, &source("u2"), &[file(Records::Usage(rows))]);
        let found = finder.usage.clone().unwrap();
        assert_eq!(found.source.bundle_id, "u2");
        assert_eq!(found.plan_office, "1370000018");
        let services: Vec<_> = found
            .services
            .iter()
            .map(|s| (s.service_code.as_str(), s.start.clone(), s.days.clone(), s.times))
            .collect();
        assert_eq!(services, [("171001", None, vec![1], 1), ("111211", Some("1000".to_owned()), vec![7, 14], 3)]);
        finder.take(
            UnitKind::UsageTicket,
            &source("u1"),
            &[file(Records::Usage(vec![usage(ME, "202505", "02", "111111", "0900")]))],
        );
        assert_eq!(finder.usage.unwrap().source.bundle_id, "u2", "an older 予定 of the month changes nothing");
    }

    #[test]
    fn a_newer_deletion_of_the_month_leaves_no_services() {
        let mut finder = Finder::new(INSURER, ME, may());
        let other_month: UsageDeleteRow = row(&[(1, "202407"), (2, INSURER), (3, ME), (4, "202506")], 4);
        finder.take(UnitKind::UsageTicketDelete, &source("x"), &[file(Records::UsageDelete(vec![other_month]))]);
        assert!(finder.wants(UnitKind::UsageTicket));
        let this_month: UsageDeleteRow = row(&[(1, "202407"), (2, INSURER), (3, ME), (4, "202505")], 4);
        finder.take(UnitKind::UsageTicketDelete, &source("d"), &[file(Records::UsageDelete(vec![this_month]))]);
        assert!(!finder.wants(UnitKind::UsageTicket));
        finder.take(
            UnitKind::UsageTicket,
            &source("u"),
            &[file(Records::Usage(vec![usage(ME, "202505", "02", "111211", "1000")]))],
        );
        assert!(finder.usage.is_none());
        // Nothing else matters to a finder with neither plan nor month left to look for.
        finder.take(UnitKind::Plan, &source("p"), &[file(Records::Plan1(vec![plan1(ME, "20250401", "方針")]))]);
        assert!(finder.done());
        assert!(!finder.wants(UnitKind::Actuals));
    }
}
