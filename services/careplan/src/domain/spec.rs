//! The spec data (`spec/careplan-csv.toml`): CSVバージョン values, layouts per version, file-name
//! templates, send units and the uncertain limits. Loaded and checked once at start-up.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::kind::{FormKind, SenderSide, UnitKind};
use super::values::{FieldType, ServiceType, YearMonth};

/// The embedded spec data.
pub const EMBEDDED: &str = include_str!("../../spec/careplan-csv.toml");

/// Why the spec data cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("spec data is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("spec data: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    versions: Vec<RawVersion>,
    service_types: ServiceTypes,
    limits: Limits,
    layouts: BTreeMap<String, RawLayout>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    value: String,
    layout: String,
    first_service_month: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayout {
    forms: Vec<String>,
    file_names: Vec<String>,
    omit_columns: BTreeMap<String, Vec<usize>>,
    also_required: BTreeMap<String, Vec<usize>>,
    send_units: BTreeMap<String, RawUnit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    from: SenderSide,
    month: bool,
    required: Vec<String>,
    /// Files the unit may carry besides the required ones (at most one of each).
    #[serde(default)]
    optional: Vec<String>,
}

/// Uncertain column limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub usage_detail_no_digits: usize,
    pub annex_days_before_month_digits: usize,
}

/// Which service types take part in the exchange (docs/domain/careplan-csv.md#service-types).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTypes {
    /// Service types whose services travel in 第6表/第7表/実績 (2 characters each).
    pub exchanged: BTreeSet<String>,
    /// The care office's own types: 居宅介護支援 (43) and 介護予防支援 (46).
    pub care_management: BTreeSet<String>,
}

impl ServiceTypes {
    /// True when a row of this service type may be exchanged.
    pub fn is_exchanged(&self, service_type: &str) -> bool {
        self.exchanged.contains(service_type)
    }

    /// True for the care office's own service types.
    pub fn is_care_management(&self, service_type: &str) -> bool {
        self.care_management.contains(service_type)
    }
}

/// One CSVバージョン value.
#[derive(Debug, Clone)]
pub struct Version {
    pub value: String,
    pub layout: String,
    pub first_service_month: YearMonth,
}

/// A send unit's rule.
#[derive(Debug, Clone)]
pub struct UnitRule {
    pub from: SenderSide,
    /// The unit carries a service month (対象年月).
    pub month: bool,
    pub required: Vec<FormKind>,
    /// Files the unit may carry besides the required ones (the 介護予防 別表).
    pub optional: Vec<FormKind>,
}

/// One file-name template, split at `_`.
#[derive(Debug, Clone)]
pub struct NameTemplate {
    pub kind: FormKind,
    pub tokens: Vec<String>,
}

/// The files and rules of one layout generation.
#[derive(Debug, Clone)]
pub struct Layout {
    pub id: String,
    pub forms: BTreeSet<FormKind>,
    pub names: Vec<NameTemplate>,
    omit: BTreeMap<FormKind, BTreeSet<usize>>,
    also_required: BTreeMap<FormKind, BTreeSet<usize>>,
    pub units: BTreeMap<UnitKind, UnitRule>,
}

impl Layout {
    /// The model columns (1-based v4.1 No.) present on the wire, in order.
    pub fn wire_columns(&self, kind: FormKind, model_columns: usize) -> Vec<usize> {
        let omit = self.omit.get(&kind);
        (1..=model_columns).filter(|n| omit.is_none_or(|o| !o.contains(n))).collect()
    }

    /// True when column `no` (model numbering) is required beyond the struct's own flags.
    pub fn also_required(&self, kind: FormKind, no: usize) -> bool {
        self.also_required.get(&kind).is_some_and(|s| s.contains(&no))
    }

    /// The template of `kind`.
    pub fn template(&self, kind: FormKind) -> Option<&NameTemplate> {
        self.names.iter().find(|t| t.kind == kind)
    }
}

/// How an office number with a letter at position 3 whose check digit fails is treated: the
/// check-digit rule for letters is UNCONFIRMED (docs/domain/identifiers.md#office-number), so
/// the `careplan.lettered_office_check_digit` setting decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetteredOfficeCheck {
    /// Refused (BAD_CHECK_DIGIT as an error), like any other failed check digit.
    #[default]
    Strict,
    /// Accepted with a BAD_CHECK_DIGIT warning.
    Warn,
}

/// The operator's settings that change how the spec data is applied (the `[careplan]`
/// configuration; docs/domain/careplan-csv.md#settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The last service month each CSVバージョン is accepted for, where one is set (202208:
    /// `careplan.csv_202208_last_service_month`).
    pub last_service_month: BTreeMap<String, YearMonth>,
    pub lettered_office: LetteredOfficeCheck,
}

/// CSVバージョン 202208 (v3.2) is refused for service months after this one unless configured
/// otherwise: v4.1 applies from 2025-04 (docs/domain/careplan-csv.md#versions).
pub const DEFAULT_202208_LAST_MONTH: YearMonth = YearMonth { year: 2025, month: 3 };

impl Default for Settings {
    fn default() -> Self {
        Self {
            last_service_month: BTreeMap::from([("202208".to_owned(), DEFAULT_202208_LAST_MONTH)]),
            lettered_office: LetteredOfficeCheck::Strict,
        }
    }
}

/// The whole spec data.
#[derive(Debug, Clone)]
pub struct Spec {
    pub versions: Vec<Version>,
    pub service_types: ServiceTypes,
    pub limits: Limits,
    pub layouts: BTreeMap<String, Layout>,
    /// How the data is applied (defaults unless the service's configuration says otherwise).
    pub settings: Settings,
}

fn form(name: &str) -> Result<FormKind, SpecError> {
    FormKind::from_prefix(name).ok_or_else(|| SpecError::Invalid(format!("unknown file kind {name}")))
}

impl Spec {
    /// The spec data compiled into the binary.
    pub fn embedded() -> Result<Self, SpecError> {
        Self::parse(EMBEDDED)
    }

    /// Parses and checks spec data.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let raw: RawSpec = toml::from_str(text)?;
        let mut layouts = BTreeMap::new();
        for (id, l) in raw.layouts {
            let forms = l.forms.iter().map(|f| form(f)).collect::<Result<BTreeSet<_>, _>>()?;
            let mut names = Vec::new();
            for template in &l.file_names {
                let stem = template
                    .strip_suffix(".CSV")
                    .ok_or_else(|| SpecError::Invalid(format!("template {template} must end in .CSV")))?;
                let tokens: Vec<String> = stem.split('_').map(str::to_owned).collect();
                let parts: Vec<&str> = tokens.iter().map(String::as_str).collect();
                let kind = FormKind::from_name_parts(&parts)
                    .ok_or_else(|| SpecError::Invalid(format!("unknown file kind in template {template}")))?;
                names.push(NameTemplate { kind, tokens });
            }
            for f in &forms {
                if !names.iter().any(|n| n.kind == *f) {
                    return Err(SpecError::Invalid(format!("layout {id}: no file name for {f}")));
                }
            }
            let sets = |m: BTreeMap<String, Vec<usize>>| -> Result<BTreeMap<FormKind, BTreeSet<usize>>, SpecError> {
                m.into_iter().map(|(k, v)| Ok((form(&k)?, v.into_iter().collect()))).collect()
            };
            let mut units = BTreeMap::new();
            for (name, u) in l.send_units {
                let kind = UnitKind::from_name(&name)
                    .ok_or_else(|| SpecError::Invalid(format!("layout {id}: unknown send unit {name}")))?;
                let required = u.required.iter().map(|f| form(f)).collect::<Result<Vec<_>, _>>()?;
                let optional = u.optional.iter().map(|f| form(f)).collect::<Result<Vec<_>, _>>()?;
                if let Some(f) = required.iter().chain(&optional).find(|f| !forms.contains(f)) {
                    return Err(SpecError::Invalid(format!(
                        "layout {id}: unit {name} names {f}, not a file of the layout"
                    )));
                }
                units.insert(kind, UnitRule { from: u.from, month: u.month, required, optional });
            }
            let layout = Layout {
                id: id.clone(),
                forms,
                names,
                omit: sets(l.omit_columns)?,
                also_required: sets(l.also_required)?,
                units,
            };
            layouts.insert(id, layout);
        }
        let mut versions = Vec::new();
        for v in raw.versions {
            if !layouts.contains_key(&v.layout) {
                return Err(SpecError::Invalid(format!("version {}: unknown layout {}", v.value, v.layout)));
            }
            let first = YearMonth::parse(&v.first_service_month)
                .map_err(|_| SpecError::Invalid(format!("version {}: bad first_service_month", v.value)))?;
            versions.push(Version { value: v.value, layout: v.layout, first_service_month: first });
        }
        if layouts.is_empty() || versions.is_empty() {
            return Err(SpecError::Invalid("at least one layout and one version are needed".to_owned()));
        }
        let types = &raw.service_types;
        if let Some(bad) = types.exchanged.iter().chain(&types.care_management).find(|t| ServiceType::parse(t).is_err())
        {
            return Err(SpecError::Invalid(format!("service type {bad} is not 2 digits or upper-case letters")));
        }
        if let Some(both) = types.exchanged.intersection(&types.care_management).next() {
            return Err(SpecError::Invalid(format!("service type {both} is both exchanged and care management")));
        }
        Ok(Self {
            versions,
            service_types: raw.service_types,
            limits: raw.limits,
            layouts,
            settings: Settings::default(),
        })
    }

    /// The version entry of a CSVバージョン value.
    pub fn version(&self, value: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.value == value)
    }

    /// The layout named `id`.
    pub fn layout(&self, id: &str) -> Option<&Layout> {
        self.layouts.get(id)
    }

    /// The same spec data applied with `settings`.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The values accepted for `month`: each version from its first service month up to its
    /// last, where a setting gives one (202208 until 2025-03 by default).
    pub fn versions_for_month(&self, month: YearMonth) -> Vec<&Version> {
        self.versions
            .iter()
            .filter(|v| v.first_service_month <= month)
            .filter(|v| self.settings.last_service_month.get(&v.value).is_none_or(|last| month <= *last))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_spec_loads_with_both_layouts() {
        let spec = Spec::embedded().unwrap();
        assert_eq!(spec.version("202407").unwrap().layout, "v4");
        assert_eq!(spec.version("202208").unwrap().layout, "v3");
        let v3 = spec.layout("v3").unwrap();
        assert!(!v3.forms.contains(&FormKind::Plan3));
        assert_eq!(v3.wire_columns(FormKind::UsagePlan, 25).len(), 22);
        assert_eq!(v3.wire_columns(FormKind::UsageAnnex, 37).len(), 34);
        let v4 = spec.layout("v4").unwrap();
        assert_eq!(v4.wire_columns(FormKind::UsagePlan, 25).len(), 25);
        assert!(v4.also_required(FormKind::Supplement, 6));
        assert_eq!(v4.units[&UnitKind::Plan].required.len(), 4);
    }

    #[test]
    fn the_version_in_force_follows_the_service_month() {
        let spec = Spec::embedded().unwrap();
        let values = |y, m| -> Vec<String> {
            spec.versions_for_month(YearMonth::new(y, m).unwrap()).iter().map(|v| v.value.clone()).collect()
        };
        assert_eq!(values(2025, 3), vec!["202208"]);
        assert_eq!(values(2025, 4), vec!["202407", "202504"]);
        assert!(values(2022, 12).is_empty());
    }

    #[test]
    fn the_202208_cut_over_is_a_setting() {
        let values = |spec: &Spec, y, m| -> Vec<String> {
            spec.versions_for_month(YearMonth::new(y, m).unwrap()).iter().map(|v| v.value.clone()).collect()
        };
        let mut settings = Settings::default();
        settings.last_service_month.insert("202208".to_owned(), YearMonth::new(2025, 9).unwrap());
        let spec = Spec::embedded().unwrap().with_settings(settings);
        // Both in use from 2025-04 through the configured last month, then v4.1 only.
        assert_eq!(values(&spec, 2025, 3), vec!["202208"]);
        assert_eq!(values(&spec, 2025, 4), vec!["202208", "202407", "202504"]);
        assert_eq!(values(&spec, 2025, 9), vec!["202208", "202407", "202504"]);
        assert_eq!(values(&spec, 2025, 10), vec!["202407", "202504"]);
        // Without a last month, 202208 is accepted for any later month.
        let open = Spec::embedded().unwrap().with_settings(Settings {
            last_service_month: BTreeMap::new(),
            lettered_office: LetteredOfficeCheck::Strict,
        });
        assert_eq!(values(&open, 2030, 1), vec!["202208", "202407", "202504"]);
    }

    #[test]
    fn the_exchanged_service_types_are_data() {
        let spec = Spec::embedded().unwrap();
        let types = &spec.service_types;
        for exchanged in ["11", "17", "2A", "27", "67", "A8"] {
            assert!(types.is_exchanged(exchanged), "{exchanged}");
        }
        // Long-term residential and institutional services, and the care offices' own types.
        for not in ["32", "33", "36", "51", "59", "81", "35", "43", "46"] {
            assert!(!types.is_exchanged(not), "{not}");
        }
        assert!(types.is_care_management("43") && types.is_care_management("46"));
        let err =
            Spec::parse(&EMBEDDED.replace("care_management = [\"43\", \"46\"]", "care_management = [\"43\", \"11\"]"))
                .unwrap_err();
        assert!(err.to_string().contains("both"), "{err}");
    }

    #[test]
    fn the_prevention_units_are_data_with_optional_files() {
        let spec = Spec::embedded().unwrap();
        let v4 = spec.layout("v4").unwrap();
        let unit = &v4.units[&UnitKind::PreventionPlanWithBasic];
        assert_eq!(unit.required, vec![FormKind::PreventionPlan, FormKind::PreventionBasic]);
        assert_eq!(unit.optional.len(), 3);
        assert!(!unit.month && unit.from == SenderSide::CareOffice);
        assert!(v4.also_required(FormKind::PreventionBasic, 15) && !v4.also_required(FormKind::PreventionBasic, 6));
        // No 介護予防 file exists in v3.2.
        assert!(!spec.layout("v3").unwrap().forms.contains(&FormKind::PreventionBasic));
        // A unit may only name files of its layout: v3.2 has no 第3表.
        let err = Spec::parse(&EMBEDDED.replace(
            "required = [\"UP1KYO\", \"UP2KYO\", \"UPHOSOKU\"] }",
            "required = [\"UP1KYO\", \"UP2KYO\", \"UPHOSOKU\"], optional = [\"UP3KYO\"] }",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("layout v3: unit PLAN names UP3KYO"), "{err}");
    }

    #[test]
    fn bad_spec_data_is_refused_with_the_reason() {
        let err = Spec::parse(
            &EMBEDDED.replace("\"UPSIKYU_{month}_{sender}_{sender-type}", "\"UPXX_{month}_{sender}_{sender-type}"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("UPXX"), "{err}");
    }
}
