//! 住宅改修費 and 福祉用具購入費: what a person has used of each allowance and what remains on
//! a date, itemised (docs/domain/eligibility.md#allowances). Plain functions over the person's
//! uses and timeline; the timeline gives the care level and the 負担割合 on each receipt date.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::timeline::{CareLevel, Detail, Timeline, Verdict};

/// Which allowance a use draws on (the proto's AllowanceKind numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UseKind {
    /// 住宅改修費.
    HomeModification,
    /// 福祉用具購入費.
    EquipmentPurchase,
}

impl UseKind {
    /// The stored and wire code.
    pub fn code(self) -> i16 {
        match self {
            UseKind::HomeModification => 1,
            UseKind::EquipmentPurchase => 2,
        }
    }

    /// The kind of a stored code.
    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(UseKind::HomeModification),
            2 => Some(UseKind::EquipmentPurchase),
            _ => None,
        }
    }
}

/// What a use says (without its id and lifecycle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseFacts {
    /// Which allowance.
    pub kind: UseKind,
    /// The insurer's reference of the claim.
    pub reference: String,
    /// 領収日.
    pub receipt: NaiveDate,
    /// Cost, yen.
    pub cost_yen: i64,
    /// The insurer's reference of the dwelling (home modification; empty for purchases).
    pub dwelling: String,
    /// What was done or bought.
    pub description: String,
}

/// One active use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowanceUse {
    /// The use's id.
    pub id: i64,
    /// What it says.
    pub facts: UseFacts,
}

/// 介護の必要の程度 steps by care level, for the 3-step rise (docs/domain/eligibility.md#allowances;
/// the table is UNCONFIRMED, hence a setting). A level without a step (非該当, 事業対象者) never
/// counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CareNeedSteps {
    /// 経過的要介護.
    pub transitional: u8,
    /// 要支援1.
    pub support1: u8,
    /// 要支援2.
    pub support2: u8,
    /// 要介護1.
    pub care1: u8,
    /// 要介護2.
    pub care2: u8,
    /// 要介護3.
    pub care3: u8,
    /// 要介護4.
    pub care4: u8,
    /// 要介護5.
    pub care5: u8,
}

impl Default for CareNeedSteps {
    /// 要支援1 and 経過的要介護 step 1, 要支援2 and 要介護1 step 2 (the same step), 要介護2–5 steps
    /// 3–6.
    fn default() -> Self {
        Self { transitional: 1, support1: 1, support2: 2, care1: 2, care2: 3, care3: 4, care4: 5, care5: 6 }
    }
}

impl CareNeedSteps {
    /// The step of `level`, `None` for a level that has none.
    pub fn of(&self, level: CareLevel) -> Option<u8> {
        match level {
            CareLevel::Transitional => Some(self.transitional),
            CareLevel::Support1 => Some(self.support1),
            CareLevel::Support2 => Some(self.support2),
            CareLevel::Care1 => Some(self.care1),
            CareLevel::Care2 => Some(self.care2),
            CareLevel::Care3 => Some(self.care3),
            CareLevel::Care4 => Some(self.care4),
            CareLevel::Care5 => Some(self.care5),
            CareLevel::NotApplicable | CareLevel::ProgrammeEligible => None,
        }
    }

    /// True when the steps never fall as the level rises (要支援1 … 要介護5).
    pub fn is_ordered(&self) -> bool {
        let order = [self.support1, self.support2, self.care1, self.care2, self.care3, self.care4, self.care5];
        order.windows(2).all(|w| w[0] <= w[1])
    }
}

/// The allowance rules, a setting (`eligibility.allowances`): the limits are the law's, the
/// renewal on a rise of care need is counted as documented (docs/domain/eligibility.md#allowances).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowanceRules {
    /// 住宅改修費支給限度基準額: yen of cost per dwelling.
    pub home_modification_limit_yen: i64,
    /// 福祉用具購入費支給限度基準額: yen of cost per fiscal year.
    pub equipment_purchase_limit_yen: i64,
    /// A rise of at least this many steps since the first use of the allowance renews it.
    pub rise_steps: u8,
    /// How many times a rise renews the allowance in a person's life (一回に限り: 1).
    pub rise_renewals: u8,
    /// The steps of each level.
    pub care_need_steps: CareNeedSteps,
}

impl Default for AllowanceRules {
    fn default() -> Self {
        Self {
            home_modification_limit_yen: 200_000,
            equipment_purchase_limit_yen: 100_000,
            rise_steps: 3,
            rise_renewals: 1,
            care_need_steps: CareNeedSteps::default(),
        }
    }
}

impl AllowanceRules {
    /// Every problem of the setting, as (field under `allowances.`, message).
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut problems = Vec::new();
        if !(1..=10_000_000).contains(&self.home_modification_limit_yen) {
            problems.push(("home_modification_limit_yen", "must be between 1 and 10,000,000"));
        }
        if !(1..=10_000_000).contains(&self.equipment_purchase_limit_yen) {
            problems.push(("equipment_purchase_limit_yen", "must be between 1 and 10,000,000"));
        }
        if self.rise_steps == 0 {
            problems.push(("rise_steps", "must be at least 1"));
        }
        if !self.care_need_steps.is_ordered() {
            problems.push(("care_need_steps", "must not fall from 要支援1 to 要介護5"));
        }
        problems
    }
}

/// One line of an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Stable code (see the proto's AllowanceLine).
    pub code: &'static str,
    /// Japanese explanation.
    pub description: String,
    /// The amount the line is about, yen.
    pub amount_yen: i64,
    /// The use it is about.
    pub use_id: Option<i64>,
    /// The day it is about.
    pub date: Option<NaiveDate>,
    /// For a use: the tenths the user paid (`None`: no ratio in force).
    pub copayment_tenths: Option<u8>,
    /// For a use: the insurance benefit, yen.
    pub benefit_yen: i64,
    /// What the user paid of the line's amount, yen.
    pub user_pays_yen: i64,
}

impl Line {
    fn note(code: &'static str, description: String, amount_yen: i64, date: Option<NaiveDate>) -> Self {
        Self {
            code,
            description,
            amount_yen,
            use_id: None,
            date,
            copayment_tenths: None,
            benefit_yen: 0,
            user_pays_yen: 0,
        }
    }

    /// True for lines that reveal a use (withheld from a provider acting for the person).
    pub fn reveals_use(&self) -> bool {
        matches!(self.code, USE | OVER_LIMIT | NO_COPAYMENT_RATIO | EARLIER_ALLOWANCE)
    }
}

/// The allowance and its limit.
pub const LIMIT: &str = "LIMIT";
/// A dwelling not used before: a new allowance.
pub const NEW_DWELLING: &str = "NEW_DWELLING";
/// What an earlier allowance of the dwelling used before a rise renewed it.
pub const EARLIER_ALLOWANCE: &str = "EARLIER_ALLOWANCE";
/// A rise of care need renewed the allowance.
pub const CARE_NEED_RISE: &str = "CARE_NEED_RISE";
/// The level on the date would renew the allowance at the next work.
pub const CARE_NEED_RISE_AVAILABLE: &str = "CARE_NEED_RISE_AVAILABLE";
/// The rise renewal was used before.
pub const CARE_NEED_RISE_USED: &str = "CARE_NEED_RISE_USED";
/// A use counted within the allowance.
pub const USE: &str = "USE";
/// The part of a use beyond the allowance.
pub const OVER_LIMIT: &str = "OVER_LIMIT";
/// No 負担割合 in force on a use's receipt date.
pub const NO_COPAYMENT_RATIO: &str = "NO_COPAYMENT_RATIO";
/// What remains.
pub const REMAINING: &str = "REMAINING";

/// What is used and remains of one allowance on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Which allowance.
    pub kind: UseKind,
    /// The limit, yen.
    pub limit_yen: i64,
    /// Counted against the current allowance, yen.
    pub used_yen: i64,
    /// What remains, yen.
    pub remaining_yen: i64,
    /// The fiscal year counted over (purchases only).
    pub counted_over: Option<(NaiveDate, NaiveDate)>,
    /// The dwelling answered about (home modification; empty when none).
    pub dwelling: String,
    /// Why, line by line.
    pub lines: Vec<Line>,
}

/// `n` as Japanese yen with thousands separators: 200,000円.
pub fn yen(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 4);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}円") } else { format!("{out}円") }
}

/// The fiscal year (1 April to 31 March) holding `day`.
pub fn fiscal_year(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let year = if day.month() >= 4 { day.year() } else { day.year() - 1 };
    let start = NaiveDate::from_ymd_opt(year, 4, 1).unwrap_or(day);
    let end = NaiveDate::from_ymd_opt(year + 1, 3, 31).unwrap_or(day);
    (start, end)
}

/// The care level certified on `day` (none while not certified).
fn level_on(timeline: &Timeline, day: NaiveDate) -> Option<CareLevel> {
    let assessment = timeline.assess(day);
    if assessment.verdict != Verdict::Eligible {
        return None;
    }
    match assessment.certification.map(|r| &r.detail) {
        Some(Detail::Certification { level, .. }) => Some(*level),
        _ => None,
    }
}

/// The tenths the user pays on `day`: the 負担割合 in force, raised under 給付額減額.
fn tenths_on(timeline: &Timeline, day: NaiveDate) -> Option<u8> {
    timeline.assess(day).effective_copayment().map(|e| e.tenths)
}

fn level_name(level: CareLevel) -> &'static str {
    match level {
        CareLevel::NotApplicable => "非該当",
        CareLevel::Transitional => "経過的要介護",
        CareLevel::Support1 => "要支援1",
        CareLevel::Support2 => "要支援2",
        CareLevel::Care1 => "要介護1",
        CareLevel::Care2 => "要介護2",
        CareLevel::Care3 => "要介護3",
        CareLevel::Care4 => "要介護4",
        CareLevel::Care5 => "要介護5",
        CareLevel::ProgrammeEligible => "事業対象者",
    }
}

/// The lines of one use counted against an allowance with `remaining` left: the counted part
/// (its benefit at the ratio on the receipt date) and any part over the limit. Returns the
/// lines and the yen counted.
fn use_lines(timeline: &Timeline, u: &AllowanceUse, remaining: i64) -> (Vec<Line>, i64) {
    let f = &u.facts;
    let counted = f.cost_yen.min(remaining.max(0));
    let over = f.cost_yen - counted;
    let tenths = tenths_on(timeline, f.receipt);
    let (benefit, user_pays) = match tenths {
        Some(t) => {
            let benefit = counted * i64::from(10u8.saturating_sub(t)) / 10;
            (benefit, counted - benefit)
        }
        None => (0, 0),
    };
    let what = if f.description.is_empty() { String::new() } else { format!(" ({})", f.description) };
    let mut lines = Vec::new();
    let description = match tenths {
        Some(t) => format!(
            "{} 受領{what}: 費用 {} のうち {} を計上 ({}割負担: 給付 {}、自己負担 {})",
            f.receipt,
            yen(f.cost_yen),
            yen(counted),
            t,
            yen(benefit),
            yen(user_pays)
        ),
        None => format!("{} 受領{what}: 費用 {} のうち {} を計上", f.receipt, yen(f.cost_yen), yen(counted)),
    };
    lines.push(Line {
        code: USE,
        description,
        amount_yen: counted,
        use_id: Some(u.id),
        date: Some(f.receipt),
        copayment_tenths: tenths,
        benefit_yen: benefit,
        user_pays_yen: user_pays,
    });
    if tenths.is_none() {
        lines.push(Line {
            use_id: Some(u.id),
            ..Line::note(
                NO_COPAYMENT_RATIO,
                format!("{} に有効な負担割合の記録がないため給付額は算定できません", f.receipt),
                counted,
                Some(f.receipt),
            )
        });
    }
    if over > 0 {
        lines.push(Line {
            use_id: Some(u.id),
            user_pays_yen: over,
            ..Line::note(
                OVER_LIMIT,
                format!("{} 受領: 限度額を超える {} は全額自己負担", f.receipt, yen(over)),
                over,
                Some(f.receipt),
            )
        });
    }
    (lines, counted)
}

/// One dwelling's current allowance while the uses are replayed.
#[derive(Debug, Default)]
struct Allowance {
    used: i64,
    /// The step at the allowance's first use (the rise is counted from it).
    baseline: Option<(u8, CareLevel)>,
    lines: Vec<Line>,
}

/// 住宅改修費 on `as_of` for `dwelling` (or the dwelling of the latest use on or before it):
/// the uses received up to `as_of` replayed in order, each dwelling with its own allowance, a
/// rise of `rules.rise_steps` steps over the level at the allowance's first use renewing it
/// (at most `rules.rise_renewals` times in the person's life).
pub fn home_modification(
    uses: &[AllowanceUse],
    timeline: &Timeline,
    as_of: NaiveDate,
    dwelling: Option<&str>,
    rules: &AllowanceRules,
) -> Status {
    let limit = rules.home_modification_limit_yen;
    let steps = &rules.care_need_steps;
    let mut counted: Vec<&AllowanceUse> =
        uses.iter().filter(|u| u.facts.kind == UseKind::HomeModification && u.facts.receipt <= as_of).collect();
    counted.sort_by_key(|u| (u.facts.receipt, u.id));
    let mut dwellings: HashMap<&str, Allowance> = HashMap::new();
    let mut renewals_used: u8 = 0;
    // Renews `a` when `day`'s level has risen enough over its baseline; returns the line.
    let renew = |a: &mut Allowance, day: NaiveDate, renewals_used: &mut u8, available_only: bool| {
        let (Some((base, base_level)), Some(level)) = (a.baseline, level_on(timeline, day)) else { return };
        let Some(step) = steps.of(level) else { return };
        if a.used == 0 || step < base.saturating_add(rules.rise_steps) {
            return;
        }
        let rise = format!(
            "{} ({}段階) → {} ({}段階): {}段階以上の上昇",
            level_name(base_level),
            base,
            level_name(level),
            step,
            rules.rise_steps
        );
        if *renewals_used >= rules.rise_renewals {
            if available_only {
                a.lines.push(Line::note(
                    CARE_NEED_RISE_USED,
                    format!("{rise}ですが、上昇による再支給は使用済みです"),
                    0,
                    Some(day),
                ));
            }
            return;
        }
        *renewals_used += 1;
        let earlier = Line::note(
            EARLIER_ALLOWANCE,
            format!("以前の支給限度で {} を使用済み (上昇により新たな限度へ)", yen(a.used)),
            a.used,
            None,
        );
        let code = if available_only { CARE_NEED_RISE_AVAILABLE } else { CARE_NEED_RISE };
        let then = if available_only { "次の改修から" } else { "この改修から" };
        let renewed = Line::note(code, format!("{rise}: {then}改めて {} まで", yen(limit)), limit, Some(day));
        a.lines = vec![earlier, renewed];
        a.used = 0;
        a.baseline = Some((step, level));
    };
    let mut first_dwelling: Option<&str> = None;
    for u in &counted {
        let d = u.facts.dwelling.as_str();
        let is_new = !dwellings.contains_key(d);
        let a = dwellings.entry(d).or_default();
        if is_new {
            let opening = if first_dwelling.is_some() {
                Line::note(
                    NEW_DWELLING,
                    format!("転居後の住宅: 改めて {} まで", yen(limit)),
                    limit,
                    Some(u.facts.receipt),
                )
            } else {
                Line::note(LIMIT, format!("住宅改修費の支給限度基準額 {} (住宅ごと)", yen(limit)), limit, None)
            };
            a.lines.push(opening);
            first_dwelling.get_or_insert(d);
        } else {
            renew(a, u.facts.receipt, &mut renewals_used, false);
        }
        if a.used == 0 && a.lines.iter().all(|l| l.code != CARE_NEED_RISE) {
            a.baseline = level_on(timeline, u.facts.receipt).and_then(|l| steps.of(l).map(|s| (s, l)));
        }
        let (lines, yen_counted) = use_lines(timeline, u, limit - a.used);
        a.used += yen_counted;
        a.lines.extend(lines);
    }
    let target = dwelling.map(str::to_owned).or_else(|| counted.last().map(|u| u.facts.dwelling.clone()));
    let mut current = match target.as_deref().and_then(|d| dwellings.remove(d)) {
        Some(a) => a,
        None => {
            let mut a = Allowance::default();
            let line = if counted.is_empty() {
                Line::note(LIMIT, format!("住宅改修費の支給限度基準額 {} (住宅ごと)", yen(limit)), limit, None)
            } else {
                Line::note(NEW_DWELLING, format!("まだ使っていない住宅: 改めて {} まで", yen(limit)), limit, None)
            };
            a.lines.push(line);
            a
        }
    };
    renew(&mut current, as_of, &mut renewals_used, true);
    let remaining = (limit - current.used).max(0);
    current.lines.push(Line::note(REMAINING, format!("{as_of} 時点の残り {}", yen(remaining)), remaining, None));
    Status {
        kind: UseKind::HomeModification,
        limit_yen: limit,
        used_yen: current.used,
        remaining_yen: remaining,
        counted_over: None,
        dwelling: target.unwrap_or_default(),
        lines: current.lines,
    }
}

/// 福祉用具購入費 on `as_of`: the uses received from the start of its fiscal year up to
/// `as_of`, in order, against the year's limit.
pub fn equipment_purchase(
    uses: &[AllowanceUse],
    timeline: &Timeline,
    as_of: NaiveDate,
    rules: &AllowanceRules,
) -> Status {
    let limit = rules.equipment_purchase_limit_yen;
    let (start, end) = fiscal_year(as_of);
    let mut counted: Vec<&AllowanceUse> = uses
        .iter()
        .filter(|u| u.facts.kind == UseKind::EquipmentPurchase && start <= u.facts.receipt && u.facts.receipt <= as_of)
        .collect();
    counted.sort_by_key(|u| (u.facts.receipt, u.id));
    let fy = if start.year() >= 2019 {
        format!("令和{}年度", start.year() - 2018)
    } else {
        format!("{}年度", start.year())
    };
    let mut lines = vec![Line::note(
        LIMIT,
        format!("福祉用具購入費の支給限度基準額 {} ({fy}: {start}〜{end})", yen(limit)),
        limit,
        None,
    )];
    let mut used = 0;
    for u in counted {
        let (more, yen_counted) = use_lines(timeline, u, limit - used);
        used += yen_counted;
        lines.extend(more);
    }
    let remaining = (limit - used).max(0);
    lines.push(Line::note(REMAINING, format!("{as_of} 時点の{fy}の残り {}", yen(remaining)), remaining, None));
    Status {
        kind: UseKind::EquipmentPurchase,
        limit_yen: limit,
        used_yen: used,
        remaining_yen: remaining,
        counted_over: Some((start, end)),
        dwelling: String::new(),
        lines,
    }
}

/// Why a new or corrected use cannot be recorded: another active use of the kind has its
/// claim reference (`except` is the use a correction replaces).
pub fn reference_in_use(existing: &[AllowanceUse], new: &UseFacts, except: Option<i64>) -> bool {
    existing.iter().any(|u| Some(u.id) != except && u.facts.kind == new.kind && u.facts.reference == new.reference)
}

/// What an import row's uses change of the stored ones (docs/domain/eligibility.md#allowances):
/// each wanted use matched by kind and claim reference — equal: nothing; different: a
/// correction of the stored one (`Some(id)`); unmatched: a new use (`None`). Stored uses the row
/// does not carry are left alone.
pub fn import_changes<'a>(stored: &[AllowanceUse], wanted: &'a [UseFacts]) -> Vec<(Option<i64>, &'a UseFacts)> {
    wanted
        .iter()
        .filter_map(|w| match stored.iter().find(|s| s.facts.kind == w.kind && s.facts.reference == w.reference) {
            Some(s) if &s.facts == w => None,
            Some(s) => Some((Some(s.id), w)),
            None => Some((None, w)),
        })
        .collect()
}

/// What a caller sees of a person's allowances (docs/domain/access.md#allowances), once the
/// access decision let it see the person's certificates and cost share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowanceView {
    /// The uses and the itemised answer: the insurer, the person, the registered care office.
    Uses,
    /// The totals and the rules applied, not the uses: a provider acting for the person.
    TotalsOnly,
}

/// The view of `role`: providers and medical institutions (a registration as provider is what
/// lets them through the decision) check the remaining allowance only.
pub fn view_of(role: kaigo_platform::auth::Role) -> AllowanceView {
    use kaigo_platform::auth::Role;
    match role {
        Role::ServiceProvider | Role::MedicalInstitution => AllowanceView::TotalsOnly,
        Role::Insurer | Role::CareOffice | Role::InsuredPerson | Role::Operator => AllowanceView::Uses,
    }
}

#[cfg(test)]
mod tests;
