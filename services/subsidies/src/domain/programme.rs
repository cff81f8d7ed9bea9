//! A fiscal year's subsidy programme, as written in its data file (`programmes/fy2025.toml`).
//!
//! Programmes are data, never code: the amounts, limits, rates and deadline of each fiscal
//! year live in one TOML file, checked here when it is loaded. Every refusal names the file
//! and the key, so an operator who edits a file finds the mistake at start-up.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::{Deserialize, Serialize};

use super::money::{Rate, Rounding};

/// Hospital or clinic (医療法: a hospital has 20 or more beds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionType {
    /// 病院.
    Hospital,
    /// 診療所.
    Clinic,
}

/// Who applies: the two parts of a programme (docs/domain/subsidies.md#windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    /// 介護事業所 or 介護サービス提供医療機関 (card readers, connection support).
    CareOffice,
    /// 医療機関 writing 主治医意見書 (software changes).
    MedicalInstitution,
}

impl ApplicantKind {
    /// Both kinds, in the order programme files list them.
    pub const ALL: [ApplicantKind; 2] = [ApplicantKind::CareOffice, ApplicantKind::MedicalInstitution];

    /// The name used in programme files and stored rows.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicantKind::CareOffice => "care_office",
            ApplicantKind::MedicalInstitution => "medical_institution",
        }
    }
}

/// When one applicant kind may submit: from `open_date` (if any) to `deadline`, JST, both
/// inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// First day applications are submitted; absent = no opening day.
    #[serde(default)]
    pub open_date: Option<NaiveDate>,
    /// Last day applications are submitted (inclusive).
    pub deadline: NaiveDate,
}

/// One service category (サービス類型) with its reader and amount limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceCategory {
    /// Stable id used in requests (`visit_day_short_stay`).
    pub id: String,
    /// Display name (訪問・通所・短期滞在系).
    pub name: String,
    /// Card readers subsidised at most.
    pub max_readers: i64,
    /// Cap of ① readers + ② connection support together, yen, tax included.
    pub cap_yen: i64,
}

/// Card-reader and connection-support rules for care offices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareOfficeRules {
    /// True: an office with several categories takes the sum of their caps.
    pub caps_add_up: bool,
    /// True: reader limits add up too; false: the largest single-category limit applies.
    pub reader_limits_add_up: bool,
    /// The subsidy rate.
    pub rate: Rate,
    /// True: care-plan exchange set-up support counts only together with connection support.
    pub setup_requires_connection_support: bool,
    /// The categories, in display order.
    pub categories: Vec<ServiceCategory>,
}

impl CareOfficeRules {
    /// The category with this id.
    pub fn category(&self, id: &str) -> Option<&ServiceCategory> {
        self.categories.iter().find(|c| c.id == id)
    }
}

/// A medical-institution tier by size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalTier {
    /// Stable id (`hospital_200_plus`).
    pub id: String,
    /// Display name (200床以上の病院).
    pub name: String,
    /// Institution types in the tier.
    pub institution_types: Vec<InstitutionType>,
    /// Fewest licensed beds, inclusive.
    #[serde(default)]
    pub min_beds: i64,
    /// Most licensed beds, inclusive; absent = no maximum.
    #[serde(default)]
    pub max_beds: Option<i64>,
    /// The subsidy rate.
    pub rate: Rate,
    /// Cap of the subsidy, yen, tax included.
    pub cap_yen: i64,
}

impl MedicalTier {
    /// True when an institution of this type and size falls in the tier.
    pub fn covers(&self, institution_type: InstitutionType, beds: i64) -> bool {
        self.institution_types.contains(&institution_type)
            && beds >= self.min_beds
            && self.max_beds.is_none_or(|max| beds <= max)
    }
}

/// A fiscal year's programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Programme {
    /// Stable id, `fy2025`.
    pub programme_id: String,
    /// Japanese fiscal year (April–March).
    pub fiscal_year: i32,
    /// Display title.
    pub title: String,
    /// Submission windows per applicant kind (`[windows.care_office]`).
    #[serde(default)]
    pub windows: BTreeMap<ApplicantKind, Window>,
    /// The window of every applicant kind without one in `windows` (files written before
    /// windows were per kind): first day; absent = no opening day.
    #[serde(default)]
    pub application_open_date: Option<NaiveDate>,
    /// The last day of that window (JST, inclusive); absent = every kind has its own window.
    #[serde(default)]
    pub application_deadline: Option<NaiveDate>,
    /// True: an applicant whose application was rejected may apply to the programme again
    /// (a new application; the rejected one is kept). Default false: one application only.
    #[serde(default)]
    pub reapply_after_rejection: bool,
    /// True (the default): an application returned for correction (差戻し) may be resubmitted
    /// after the deadline, since it was first submitted in time.
    #[serde(default = "yes")]
    pub resubmit_returned_after_deadline: bool,
    /// Rounding after a rate; default down to the yen.
    #[serde(default)]
    pub rounding: Rounding,
    /// True: amounts include consumption tax.
    pub tax_included: bool,
    /// Care-office rules, if the programme has them.
    #[serde(default)]
    pub care_office: Option<CareOfficeRules>,
    /// Medical-institution tiers, if any.
    #[serde(default)]
    pub medical_tiers: Vec<MedicalTier>,
}

fn yes() -> bool {
    true
}

impl Programme {
    /// The applicant kinds the programme has rules for.
    pub fn kinds(&self) -> Vec<ApplicantKind> {
        let mut kinds = Vec::new();
        if self.care_office.is_some() {
            kinds.push(ApplicantKind::CareOffice);
        }
        if !self.medical_tiers.is_empty() {
            kinds.push(ApplicantKind::MedicalInstitution);
        }
        kinds
    }

    /// The submission window of `kind`: its own, else the programme-wide one.
    pub fn window(&self, kind: ApplicantKind) -> Option<Window> {
        self.windows.get(&kind).copied().or_else(|| {
            self.application_deadline.map(|deadline| Window { open_date: self.application_open_date, deadline })
        })
    }

    /// The earliest opening day and the latest deadline over the kinds' windows.
    pub fn overall_window(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let windows: Vec<Window> = self.kinds().into_iter().filter_map(|k| self.window(k)).collect();
        let open = if windows.iter().any(|w| w.open_date.is_none()) {
            None
        } else {
            windows.iter().filter_map(|w| w.open_date).min()
        };
        (open, windows.iter().map(|w| w.deadline).max())
    }

    /// The tier an institution falls in, if any.
    pub fn tier_for(&self, institution_type: InstitutionType, beds: i64) -> Option<&MedicalTier> {
        self.medical_tiers.iter().find(|t| t.covers(institution_type, beds))
    }
}

/// Why a programme file was refused: the file, the key and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct ProgrammeError {
    /// The file (or embedded name).
    pub file: String,
    /// The key path, e.g. `care_office.categories[1].cap_yen`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// The largest cap or amount a programme may state (10 million yen): a typo guard.
const MAX_CAP_YEN: i64 = 10_000_000;
/// Longest programme, category or tier id (characters): the contract's maximum for the ids a
/// request names.
pub const MAX_ID_CHARS: usize = 32;
/// Most service categories of one programme (a request names at most this many).
pub const MAX_CATEGORIES: usize = 32;

/// An id of a programme file: 1–[`MAX_ID_CHARS`] lower-case letters, digits and underscores.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Parses and checks a programme file. `file` names it in errors.
pub fn parse_programme(file: &str, text: &str) -> Result<Programme, ProgrammeError> {
    let programme: Programme = Figment::from(Toml::string(text)).extract().map_err(|err| {
        let key = if err.path.is_empty() { "(file)".to_owned() } else { err.path.join(".") };
        ProgrammeError { file: file.to_owned(), key, message: err.kind.to_string() }
    })?;
    let problems = check(&programme);
    match problems.into_iter().next() {
        None => Ok(programme),
        Some((key, message)) => Err(ProgrammeError { file: file.to_owned(), key, message }),
    }
}

/// Every rule a programme breaks, as `(key, message)`.
pub fn check(p: &Programme) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut bad = |key: String, message: &str| problems.push((key, message.to_owned()));
    if !valid_id(&p.programme_id) {
        bad("programme_id".into(), "must be 1–32 lower-case letters, digits and underscores, e.g. fy2025");
    }
    if !(2000..=2200).contains(&p.fiscal_year) {
        bad("fiscal_year".into(), "must be a year between 2000 and 2200");
    }
    if p.title.trim().is_empty() {
        bad("title".into(), "must not be empty");
    }
    match (p.application_open_date, p.application_deadline) {
        (Some(open), Some(deadline)) if open > deadline => {
            bad("application_open_date".into(), "must not be after application_deadline")
        }
        (Some(_), None) => bad("application_deadline".into(), "is required with application_open_date"),
        _ => {}
    }
    for (kind, w) in &p.windows {
        if w.open_date.is_some_and(|open| open > w.deadline) {
            bad(format!("windows.{}.open_date", kind.as_str()), "must not be after the deadline");
        }
        if !p.kinds().contains(kind) {
            bad(format!("windows.{}", kind.as_str()), "the programme has no rules for this applicant kind");
        }
    }
    for kind in p.kinds() {
        if p.window(kind).is_none() {
            bad(
                format!("windows.{}", kind.as_str()),
                "required: the submission window (open_date, deadline) of this applicant kind",
            );
        }
    }
    if p.care_office.is_none() && p.medical_tiers.is_empty() {
        bad("care_office".into(), "a programme needs care_office rules or medical_tiers");
    }
    if let Some(rules) = &p.care_office {
        if let Some(problem) = rules.rate.problem() {
            bad("care_office.rate".into(), problem);
        }
        if rules.categories.is_empty() {
            bad("care_office.categories".into(), "must list at least one category");
        }
        if rules.categories.len() > MAX_CATEGORIES {
            bad("care_office.categories".into(), "must list at most 32 categories");
        }
        for (i, c) in rules.categories.iter().enumerate() {
            let key = |field: &str| format!("care_office.categories[{i}].{field}");
            if !valid_id(&c.id) {
                bad(key("id"), "must be 1–32 lower-case letters, digits and underscores");
            }
            if rules.categories[..i].iter().any(|o| o.id == c.id) {
                bad(key("id"), "is used by an earlier category");
            }
            if c.name.trim().is_empty() {
                bad(key("name"), "must not be empty");
            }
            if !(0..=100).contains(&c.max_readers) {
                bad(key("max_readers"), "must be between 0 and 100");
            }
            if !(1..=MAX_CAP_YEN).contains(&c.cap_yen) {
                bad(key("cap_yen"), "must be between 1 and 10,000,000 yen");
            }
        }
    }
    for (i, t) in p.medical_tiers.iter().enumerate() {
        let key = |field: &str| format!("medical_tiers[{i}].{field}");
        if !valid_id(&t.id) {
            bad(key("id"), "must be 1–32 lower-case letters, digits and underscores");
        }
        if p.medical_tiers[..i].iter().any(|o| o.id == t.id) {
            bad(key("id"), "is used by an earlier tier");
        }
        if t.institution_types.is_empty() {
            bad(key("institution_types"), "must list hospital, clinic or both");
        }
        if let Some(problem) = t.rate.problem() {
            bad(key("rate"), problem);
        }
        if !(1..=MAX_CAP_YEN).contains(&t.cap_yen) {
            bad(key("cap_yen"), "must be between 1 and 10,000,000 yen");
        }
        if t.min_beds < 0 || t.max_beds.is_some_and(|max| max < t.min_beds) {
            bad(key("max_beds"), "the bed range must satisfy 0 <= min_beds <= max_beds");
        }
        // Two tiers covering the same institution and size would make the tier ambiguous.
        let overlaps = p.medical_tiers[..i].iter().any(|o| {
            o.institution_types.iter().any(|ty| t.institution_types.contains(ty))
                && o.min_beds <= t.max_beds.unwrap_or(i64::MAX)
                && t.min_beds <= o.max_beds.unwrap_or(i64::MAX)
        });
        if overlaps {
            bad(key("min_beds"), "overlaps an earlier tier for the same institution type");
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids a request names are at most 32 characters, and so is every id a programme file
    /// defines; a programme has at most 32 categories.
    #[test]
    fn programme_and_category_ids_are_at_most_32_characters() {
        let fy2025 = parse_programme("fy2025.toml", crate::catalogue::FY2025).unwrap();
        assert!(check(&fy2025).is_empty());
        let mut long = fy2025.clone();
        long.programme_id = "f".repeat(MAX_ID_CHARS + 1);
        assert_eq!(check(&long).first().map(|(key, _)| key.as_str()), Some("programme_id"));
        let mut long = fy2025.clone();
        long.programme_id = "f".repeat(MAX_ID_CHARS);
        assert!(check(&long).is_empty());
        let mut many = fy2025.clone();
        if let Some(rules) = many.care_office.as_mut() {
            rules.categories[0].id = "c".repeat(MAX_ID_CHARS + 1);
        }
        assert_eq!(check(&many).first().map(|(key, _)| key.as_str()), Some("care_office.categories[0].id"));
        let mut many = fy2025;
        if let Some(rules) = many.care_office.as_mut() {
            let first = rules.categories[0].clone();
            rules.categories = (0..=MAX_CATEGORIES)
                .map(|i| {
                    let mut c = first.clone();
                    c.id = format!("c{i}");
                    c
                })
                .collect();
        }
        assert_eq!(check(&many).first().map(|(key, _)| key.as_str()), Some("care_office.categories"));
    }
}
