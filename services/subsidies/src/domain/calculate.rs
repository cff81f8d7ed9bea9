//! The eligible amount of a claim under a programme, with an itemised explanation.
//!
//! Care offices: ① readers (limited in number by the office's categories) + ② connection
//! support (+ care-plan set-up support, only together with ②) make the eligible cost; the
//! programme's rate applies, the result is rounded as the programme states, then capped by the
//! categories' caps (summed when the programme says so). Medical institutions: the tier by
//! type and beds gives the rate and the cap. Every step that changes or limits the amount is
//! a line of the explanation, with the limit's id.

use serde::{Deserialize, Serialize};

use super::costs::{CareOfficeCosts, Costs, MedicalCosts, Problem, check_costs};
use super::money::{Rate, apply_rate, yen, yen_en};
use super::programme::{CareOfficeRules, InstitutionType, Programme};

/// One line of the explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Stable code (`READER_LIMIT`, `CATEGORY_CAP` …).
    pub code: String,
    /// Explanation in Japanese.
    pub description: String,
    /// The same in English (empty in calculations stored before it was kept).
    #[serde(default)]
    pub description_en: String,
    /// What the line adds (or, negative, removes), yen; for cap lines the cap itself.
    pub amount_yen: i64,
    /// The category or tier id whose limit the line applies, if any.
    pub limit_id: String,
}

/// The result of a calculation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calculation {
    /// Programme used.
    pub programme_id: String,
    /// Every cost claimed, yen.
    pub total_cost_yen: i64,
    /// The costs that count, yen.
    pub eligible_cost_yen: i64,
    /// The subsidy, yen.
    pub eligible_amount_yen: i64,
    /// The explanation, in order of application.
    pub lines: Vec<Line>,
    /// The medical tier applied.
    pub tier_id: Option<String>,
}

fn line(code: &str, description: String, description_en: String, amount_yen: i64, limit_id: &str) -> Line {
    Line { code: code.to_owned(), description, description_en, amount_yen, limit_id: limit_id.to_owned() }
}

/// Calculates the subsidy, or returns every problem with the claim.
pub fn calculate(programme: &Programme, costs: &Costs) -> Result<Calculation, Vec<Problem>> {
    let problems = check_costs(programme, costs);
    if !problems.is_empty() {
        return Err(problems);
    }
    let calculation = match (costs, &programme.care_office) {
        (Costs::CareOffice(c), Some(rules)) => care_office(programme, rules, c),
        (Costs::Medical(m), _) => medical(programme, m)?,
        // check_costs already refuses this; kept so the match needs no panic.
        (Costs::CareOffice(_), None) => {
            return Err(vec![Problem {
                field: "category_ids".into(),
                message: "this programme has no care-office subsidy".into(),
            }]);
        }
    };
    Ok(calculation)
}

/// Appends the rate and rounding lines; returns the rounded amount.
fn rate_lines(programme: &Programme, lines: &mut Vec<Line>, eligible_cost: i64, rate: Rate, limit_id: &str) -> i64 {
    let applied = apply_rate(eligible_cost, rate, programme.rounding);
    lines.push(line(
        "RATE",
        format!("助成率 {rate}: {} × {rate} = {}（1円未満を除く）", yen(eligible_cost), yen(applied.whole)),
        format!(
            "Rate {rate}: {} × {rate} = {} (before fractions of a yen)",
            yen_en(eligible_cost),
            yen_en(applied.whole)
        ),
        applied.whole,
        limit_id,
    ));
    if applied.remainder != 0 {
        lines.push(line(
            "ROUNDING",
            format!(
                "端数 {}/{} 円: {} → {}",
                applied.remainder,
                rate.denominator,
                programme.rounding.label(),
                yen(applied.rounded())
            ),
            format!(
                "Fraction {}/{} yen: {} → {}",
                applied.remainder,
                rate.denominator,
                programme.rounding.label_en(),
                yen_en(applied.rounded())
            ),
            applied.adjustment,
            "",
        ));
    }
    applied.rounded()
}

fn care_office(programme: &Programme, rules: &CareOfficeRules, c: &CareOfficeCosts) -> Calculation {
    let categories: Vec<_> = c.category_ids.iter().filter_map(|id| rules.category(id)).collect();
    let mut lines = Vec::new();

    // ① Readers: at most the categories' limit, counting the dearest readers first so the
    // office loses as little as the limit allows.
    let reader_count: i64 = c.readers.iter().map(|r| r.quantity).sum();
    let reader_cost: i64 = c.readers.iter().map(|r| r.quantity * r.unit_price_yen).sum();
    let (reader_limit, reader_limit_id) = if rules.reader_limits_add_up {
        let ids: Vec<&str> = categories.iter().map(|k| k.id.as_str()).collect();
        (categories.iter().map(|k| k.max_readers).sum(), ids.join("+"))
    } else {
        categories.iter().max_by_key(|k| k.max_readers).map_or((0, String::new()), |k| (k.max_readers, k.id.clone()))
    };
    if reader_count > 0 {
        lines.push(line(
            "READER_COST",
            format!("カードリーダー {reader_count}台 計 {}", yen(reader_cost)),
            format!("{reader_count} card readers, {} in all", yen_en(reader_cost)),
            reader_cost,
            "",
        ));
    }
    let mut eligible_reader_cost = reader_cost;
    if reader_count > reader_limit {
        let mut prices: Vec<_> = c.readers.iter().map(|r| (r.unit_price_yen, r.quantity)).collect();
        prices.sort_unstable_by_key(|p| std::cmp::Reverse(p.0));
        let mut left = reader_limit;
        eligible_reader_cost = 0;
        for (price, quantity) in prices {
            let take = quantity.min(left);
            eligible_reader_cost += take * price;
            left -= take;
        }
        let (how, how_en) = if rules.reader_limits_add_up {
            ("各類型の上限台数の合計", "the categories' limits added up")
        } else {
            ("類型のうち最も多い上限台数", "the largest limit of the categories")
        };
        lines.push(line(
            "READER_LIMIT",
            format!(
                "カードリーダー {reader_count}台 → 上限 {reader_limit}台を適用（{how}; 単価の高い順に算入）: {} を対象外",
                yen(reader_cost - eligible_reader_cost)
            ),
            format!(
                "{reader_count} card readers → limit of {reader_limit} applied ({how_en}; dearest first): {} not eligible",
                yen_en(reader_cost - eligible_reader_cost)
            ),
            eligible_reader_cost - reader_cost,
            &reader_limit_id,
        ));
    }

    // ② Connection support, and the set-up support that counts only together with it.
    let connection = c.connection_support_cost_yen;
    if connection > 0 {
        lines.push(line(
            "CONNECTION_SUPPORT",
            format!("接続サポート等経費 {}", yen(connection)),
            format!("Connection support {}", yen_en(connection)),
            connection,
            "",
        ));
    }
    let setup = c.careplan_setup_cost_yen;
    let setup_counts = setup > 0 && (connection > 0 || !rules.setup_requires_connection_support);
    if setup_counts {
        lines.push(line(
            "SETUP_SUPPORT",
            format!("ケアプランデータ連携 初期設定支援 {}", yen(setup)),
            format!("Care-plan exchange set-up support {}", yen_en(setup)),
            setup,
            "",
        ));
    } else if setup > 0 {
        lines.push(line(
            "SETUP_NOT_ELIGIBLE",
            format!(
                "ケアプランデータ連携 初期設定支援 {} は接続サポート等経費と一体的に受ける場合のみ対象: 対象外",
                yen(setup)
            ),
            format!(
                "Care-plan exchange set-up support {} counts only together with connection support: not eligible",
                yen_en(setup)
            ),
            0,
            "",
        ));
    }

    let total_cost = reader_cost + connection + setup;
    let eligible_cost = eligible_reader_cost + connection + if setup_counts { setup } else { 0 };
    let (tax, tax_en) = if programme.tax_included {
        ("消費税込み", "consumption tax included")
    } else {
        ("税抜", "before consumption tax")
    };
    lines.push(line(
        "ELIGIBLE_COST",
        format!("助成対象経費 {}（{tax}）", yen(eligible_cost)),
        format!("Eligible cost {} ({tax_en})", yen_en(eligible_cost)),
        eligible_cost,
        "",
    ));

    let amount = rate_lines(programme, &mut lines, eligible_cost, rules.rate, "");

    // Caps: each category's, then the one that applies (their sum, or the largest).
    for k in &categories {
        lines.push(line(
            "CATEGORY_CAP",
            format!("{}: 助成限度額 {}・カードリーダー {}台まで", k.name, yen(k.cap_yen), k.max_readers),
            format!("{} ({}): cap {}, at most {} card readers", k.name, k.id, yen_en(k.cap_yen), k.max_readers),
            k.cap_yen,
            &k.id,
        ));
    }
    let (cap, cap_id) = if rules.caps_add_up {
        let ids: Vec<&str> = categories.iter().map(|k| k.id.as_str()).collect();
        (categories.iter().map(|k| k.cap_yen).sum::<i64>(), ids.join("+"))
    } else {
        categories.iter().max_by_key(|k| k.cap_yen).map_or((0, String::new()), |k| (k.cap_yen, k.id.clone()))
    };
    let eligible_amount = amount.min(cap);
    if amount > cap {
        let (how, how_en) = if rules.caps_add_up && categories.len() > 1 {
            ("各類型の限度額の合計", "The categories' caps added up,")
        } else {
            ("助成限度額", "The cap,")
        };
        lines.push(line(
            "CAP_APPLIED",
            format!("{how} {} を適用: {} → {}", yen(cap), yen(amount), yen(eligible_amount)),
            format!("{how_en} {}, applied: {} → {}", yen_en(cap), yen_en(amount), yen_en(eligible_amount)),
            eligible_amount - amount,
            &cap_id,
        ));
    }

    Calculation {
        programme_id: programme.programme_id.clone(),
        total_cost_yen: total_cost,
        eligible_cost_yen: eligible_cost,
        eligible_amount_yen: eligible_amount,
        lines,
        tier_id: None,
    }
}

fn medical(programme: &Programme, m: &MedicalCosts) -> Result<Calculation, Vec<Problem>> {
    let Some(tier) = programme.tier_for(m.institution_type, m.beds) else {
        return Err(vec![Problem { field: "beds".into(), message: "no tier covers this institution".into() }]);
    };
    let cost = m.software_change_cost_yen;
    let (kind, kind_en) = match m.institution_type {
        InstitutionType::Hospital => (format!("病院 {}床", m.beds), format!("Hospital of {} beds", m.beds)),
        InstitutionType::Clinic => ("診療所".to_owned(), "Clinic".to_owned()),
    };
    let mut lines = vec![
        line(
            "SOFTWARE_CHANGE_COST",
            format!("主治医意見書の電子的送信のための改修経費 {}", yen(cost)),
            format!("Software changes to send attending physicians' opinions electronically {}", yen_en(cost)),
            cost,
            "",
        ),
        line(
            "TIER",
            format!("{kind} → {}: 補助率 {}・助成限度額 {}", tier.name, tier.rate, yen(tier.cap_yen)),
            format!("{kind_en} → {} ({}): rate {}, cap {}", tier.name, tier.id, tier.rate, yen_en(tier.cap_yen)),
            tier.cap_yen,
            &tier.id,
        ),
    ];
    let amount = rate_lines(programme, &mut lines, cost, tier.rate, &tier.id);
    let eligible_amount = amount.min(tier.cap_yen);
    if amount > tier.cap_yen {
        lines.push(line(
            "TIER_CAP",
            format!("助成限度額 {} を適用: {} → {}", yen(tier.cap_yen), yen(amount), yen(eligible_amount)),
            format!("The cap, {}, applied: {} → {}", yen_en(tier.cap_yen), yen_en(amount), yen_en(eligible_amount)),
            eligible_amount - amount,
            &tier.id,
        ));
    }
    Ok(Calculation {
        programme_id: programme.programme_id.clone(),
        total_cost_yen: cost,
        eligible_cost_yen: cost,
        eligible_amount_yen: eligible_amount,
        lines,
        tier_id: Some(tier.id.clone()),
    })
}

#[cfg(test)]
mod tests;
