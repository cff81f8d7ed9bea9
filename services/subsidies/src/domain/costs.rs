//! What an applicant claims, and the checks on it that need the programme.
//!
//! Identifiers (office number, institution code) are parsed at the edge; this module checks
//! the amounts and the categories. Every problem is reported with a field path relative to the
//! costs (`readers[2].quantity`), so the api can report them all at once.

use kaigo_platform::ids::{CareOfficeNumber, MedicalInstitutionCode};
use serde::{Deserialize, Serialize};

use super::programme::{InstitutionType, Programme};

/// Most reader lines in one claim.
pub const MAX_READER_LINES: usize = 100;
/// Most readers on one line.
pub const MAX_READER_QUANTITY: i64 = 1_000;
/// Highest unit price of a reader, yen.
pub const MAX_UNIT_PRICE_YEN: i64 = 10_000_000;
/// Highest connection-support or set-up cost, yen (far above any real quotation).
pub const MAX_SERVICE_COST_YEN: i64 = 100_000_000;
/// Highest software-change cost, yen.
pub const MAX_SOFTWARE_COST_YEN: i64 = 1_000_000_000;
/// Most licensed beds of one hospital (the largest Japanese hospitals have about 1,500).
pub const MAX_BEDS: i64 = 5_000;
/// Fewest beds of a hospital (医療法: 20 or more; below that it is a clinic).
pub const HOSPITAL_MIN_BEDS: i64 = 20;
/// Most beds of a clinic (医療法: 19 or fewer).
pub const CLINIC_MAX_BEDS: i64 = 19;

/// Readers bought at one unit price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderPurchase {
    /// How many.
    pub quantity: i64,
    /// Unit price, yen, tax included.
    pub unit_price_yen: i64,
}

/// Costs of a care office (or a care-providing medical institution, by its office number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareOfficeCosts {
    /// 介護保険事業所番号.
    pub office_number: CareOfficeNumber,
    /// Service category ids the office provides.
    pub category_ids: Vec<String>,
    /// Readers bought.
    pub readers: Vec<ReaderPurchase>,
    /// ② 接続サポート等経費, yen.
    pub connection_support_cost_yen: i64,
    /// ケアプランデータ連携 initial set-up support, yen.
    pub careplan_setup_cost_yen: i64,
}

/// Costs of a medical institution writing 主治医意見書.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalCosts {
    /// 医療機関コード.
    pub institution_code: MedicalInstitutionCode,
    /// Hospital or clinic.
    pub institution_type: InstitutionType,
    /// Licensed beds.
    pub beds: i64,
    /// EHR / document-software change cost, yen.
    pub software_change_cost_yen: i64,
}

/// The costs of one application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Costs {
    /// Card readers and connection support.
    CareOffice(CareOfficeCosts),
    /// Software changes for electronic opinions.
    Medical(MedicalCosts),
}

impl Costs {
    /// The office number or institution code.
    pub fn applicant_number(&self) -> &str {
        match self {
            Costs::CareOffice(c) => c.office_number.as_str(),
            Costs::Medical(m) => m.institution_code.as_str(),
        }
    }

    /// The two-digit prefecture code of the applicant.
    pub fn prefecture_code(&self) -> &str {
        match self {
            Costs::CareOffice(c) => c.office_number.prefecture(),
            Costs::Medical(m) => m.institution_code.prefecture(),
        }
    }
}

/// A problem with one field of the costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path relative to the costs, e.g. `readers[2].unit_price_yen`.
    pub field: String,
    /// What is wrong (names the rule, never echoes identifiers).
    pub message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { field: field.into(), message: message.into() }
}

fn check_amount(problems: &mut Vec<Problem>, field: &str, value: i64, min: i64, max: i64) {
    if value < min || value > max {
        problems.push(problem(field, format!("must be between {min} and {max} yen")));
    }
}

/// Every problem with `costs` under `programme`.
pub fn check_costs(programme: &Programme, costs: &Costs) -> Vec<Problem> {
    let mut problems = Vec::new();
    match costs {
        Costs::CareOffice(c) => {
            let Some(rules) = &programme.care_office else {
                problems.push(problem("category_ids", "this programme has no care-office subsidy"));
                return problems;
            };
            if c.category_ids.is_empty() {
                problems.push(problem("category_ids", "name at least one service category"));
            }
            for (i, id) in c.category_ids.iter().enumerate() {
                if rules.category(id).is_none() {
                    let known: Vec<&str> = rules.categories.iter().map(|c| c.id.as_str()).collect();
                    problems.push(problem(
                        format!("category_ids[{i}]"),
                        format!("unknown service category; this programme has {}", known.join(", ")),
                    ));
                } else if c.category_ids[..i].contains(id) {
                    problems.push(problem(format!("category_ids[{i}]"), "category named twice"));
                }
            }
            if c.readers.len() > MAX_READER_LINES {
                problems.push(problem("readers", format!("at most {MAX_READER_LINES} reader lines")));
            }
            for (i, r) in c.readers.iter().enumerate() {
                if !(1..=MAX_READER_QUANTITY).contains(&r.quantity) {
                    problems.push(problem(
                        format!("readers[{i}].quantity"),
                        format!("must be between 1 and {MAX_READER_QUANTITY}"),
                    ));
                }
                check_amount(
                    &mut problems,
                    &format!("readers[{i}].unit_price_yen"),
                    r.unit_price_yen,
                    1,
                    MAX_UNIT_PRICE_YEN,
                );
            }
            check_amount(
                &mut problems,
                "connection_support_cost_yen",
                c.connection_support_cost_yen,
                0,
                MAX_SERVICE_COST_YEN,
            );
            check_amount(&mut problems, "careplan_setup_cost_yen", c.careplan_setup_cost_yen, 0, MAX_SERVICE_COST_YEN);
            if problems.is_empty()
                && c.readers.is_empty()
                && c.connection_support_cost_yen == 0
                && c.careplan_setup_cost_yen == 0
            {
                problems.push(problem("readers", "claim at least one cost: readers, connection support or set-up"));
            }
        }
        Costs::Medical(m) => {
            if programme.medical_tiers.is_empty() {
                problems.push(problem("institution_type", "this programme has no medical-institution subsidy"));
                return problems;
            }
            match m.institution_type {
                InstitutionType::Hospital if m.beds < 1 => {
                    problems.push(problem("beds", "a hospital application needs its licensed beds (許可病床数)"));
                }
                InstitutionType::Hospital if m.beds < HOSPITAL_MIN_BEDS => problems.push(problem(
                    "beds",
                    format!("a hospital has at least {HOSPITAL_MIN_BEDS} beds; apply as a clinic below that"),
                )),
                InstitutionType::Clinic if m.beds < 0 => problems.push(problem("beds", "must not be negative")),
                InstitutionType::Clinic if m.beds > CLINIC_MAX_BEDS => problems.push(problem(
                    "beds",
                    format!("a clinic has at most {CLINIC_MAX_BEDS} beds; apply as a hospital above that"),
                )),
                _ if m.beds > MAX_BEDS => problems.push(problem("beds", format!("must be at most {MAX_BEDS}"))),
                _ => {}
            }
            check_amount(
                &mut problems,
                "software_change_cost_yen",
                m.software_change_cost_yen,
                1,
                MAX_SOFTWARE_COST_YEN,
            );
            if problems.is_empty() && programme.tier_for(m.institution_type, m.beds).is_none() {
                problems.push(problem("beds", "no tier of this programme covers this institution type and size"));
            }
        }
    }
    problems
}
