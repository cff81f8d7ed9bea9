//! The file-name grammar (docs/domain/careplan-csv.md#file-names): prefix, service month, sender and receiver
//! office numbers (with service-type codes in v4), and the 14-digit file sequence. The
//! templates are spec data; this module only matches and fills them.

use std::fmt;

use chrono::NaiveDateTime;
use kaigo_platform::ids::CareOfficeNumber;

use super::issue::Issue;
use super::kind::FormKind;
use super::spec::{LetteredOfficeCheck, Spec};
use super::values::{FieldType, ServiceType, YearMonth, YearMonthOrZero};

/// ファイル連番: YYYYMMDDHHMMSS, shared by every file of a send unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileSequence(pub NaiveDateTime);

impl FileSequence {
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        NaiveDateTime::parse_from_str(text, "%Y%m%d%H%M%S").ok().map(Self)
    }
}

impl fmt::Display for FileSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y%m%d%H%M%S"))
    }
}

/// A parsed standard file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    pub kind: FormKind,
    /// The layout whose template matched ("v3", "v4").
    pub layout: String,
    /// 対象年月 (or 000000 for a 利用者補足 of a 第1表 set); `None` when the kind has no month.
    pub month: Option<YearMonthOrZero>,
    pub sender: CareOfficeNumber,
    pub sender_type: Option<ServiceType>,
    pub receiver: CareOfficeNumber,
    pub receiver_type: Option<ServiceType>,
    pub sequence: FileSequence,
}

impl FileName {
    /// The service month, when the name carries a real one.
    pub fn service_month(&self) -> Option<YearMonth> {
        match self.month {
            Some(YearMonthOrZero::Month(m)) => Some(m),
            _ => None,
        }
    }

    /// Parses `name` (case-insensitive) against every template of the spec data. Every problem
    /// of a name that matches a template's shape is listed.
    pub fn parse(name: &str, spec: &Spec) -> Result<Self, Vec<Issue>> {
        Self::parse_unmarked(name, spec).map_err(|issues| issues.into_iter().map(Issue::of_name).collect())
    }

    fn parse_unmarked(name: &str, spec: &Spec) -> Result<Self, Vec<Issue>> {
        let upper = name.to_ascii_uppercase();
        let Some(stem) = upper.strip_suffix(".CSV") else {
            return Err(vec![Issue::error("BAD_FILE_NAME", "a file name must end in .CSV")]);
        };
        let parts: Vec<&str> = stem.split('_').collect();
        let Some(kind) = FormKind::from_name_parts(&parts) else {
            return Err(vec![Issue::error(
                "UNKNOWN_FILE_KIND",
                "the file-name prefix is not one of UPHOSOKU, UP1KYO, DLT1KYO, UP2KYO, UP3KYO, UPPLAN, DLTPLAN, UPJSK, DLTJSK, UPSIKYU, UPKIHON, UPKIHON_SUB1, UPKIHON_SUB2, DLTKIHON, UPYOBO, UPYOBO_SUB, DLTYOBO",
            )]);
        };
        let mut expected = Vec::new();
        for layout in spec.layouts.values() {
            let Some(template) = layout.template(kind) else { continue };
            expected.push(template.tokens.join("_"));
            if template.tokens.len() != parts.len() {
                continue;
            }
            return Self::fill(kind, &layout.id, &template.tokens, &parts, spec.settings.lettered_office);
        }
        Err(vec![Issue::error(
            "BAD_FILE_NAME",
            format!(
                "the file name does not follow {}",
                expected.iter().map(|e| format!("{e}.CSV")).collect::<Vec<_>>().join(" or ")
            ),
        )])
    }

    fn fill(
        kind: FormKind,
        layout: &str,
        tokens: &[String],
        parts: &[&str],
        lettered: LetteredOfficeCheck,
    ) -> Result<Self, Vec<Issue>> {
        let mut issues = Vec::new();
        let (mut month, mut sender, mut sender_type, mut receiver, mut receiver_type, mut sequence) =
            (None, None, None, None, None, None);
        for (token, part) in tokens.iter().zip(parts).skip(kind.prefix_tokens()) {
            // A lettered number whose check digit fails: refused or left to the reader's warning,
            // as the setting says (docs/domain/careplan-csv.md#settings).
            let parsed = match lettered {
                LetteredOfficeCheck::Strict => CareOfficeNumber::parse(part),
                LetteredOfficeCheck::Warn => CareOfficeNumber::parse_letter_unverified(part).map(|(n, _)| n),
            };
            let office = |what: &str, issues: &mut Vec<Issue>| match parsed.clone() {
                Ok(o) => Some(o),
                Err(e) => {
                    let code = if matches!(e, kaigo_platform::ids::IdError::CheckDigit) {
                        "BAD_CHECK_DIGIT"
                    } else {
                        "BAD_OFFICE_NUMBER"
                    };
                    issues.push(Issue::error(code, format!("file name: {what} office number: {e}")));
                    None
                }
            };
            let service_type = |what: &str, issues: &mut Vec<Issue>| match ServiceType::parse(part) {
                Ok(t) => Some(t),
                Err(e) => {
                    issues.push(Issue::error("BAD_FILE_NAME", format!("file name: {what}: {}", e.message)));
                    None
                }
            };
            match token.as_str() {
                "{month}" => match YearMonth::parse(part) {
                    Ok(m) => month = Some(YearMonthOrZero::Month(m)),
                    Err(_) => issues.push(Issue::error("BAD_FILE_NAME", "file name: 対象年月 must be YYYYMM")),
                },
                "{month-or-zero}" => match YearMonthOrZero::parse(part) {
                    Ok(m) => month = Some(m),
                    Err(_) => {
                        issues.push(Issue::error("BAD_FILE_NAME", "file name: 対象年月 must be YYYYMM or 000000"))
                    }
                },
                "{sender}" => sender = office("sender", &mut issues),
                "{receiver}" => receiver = office("receiver", &mut issues),
                "{sender-type}" => sender_type = service_type("sender service type", &mut issues),
                "{receiver-type}" => receiver_type = service_type("receiver service type", &mut issues),
                "{sequence}" => match FileSequence::parse(part) {
                    Some(s) => sequence = Some(s),
                    None => issues.push(Issue::error(
                        "BAD_FILE_SEQUENCE",
                        "file name: the sequence must be a real YYYYMMDDHHMMSS",
                    )),
                },
                literal if literal.eq_ignore_ascii_case(part) => {}
                _ => issues.push(Issue::error("BAD_FILE_NAME", format!("file name: expected {token}"))),
            }
        }
        match (sender, receiver, sequence) {
            (Some(sender), Some(receiver), Some(sequence)) if issues.is_empty() => Ok(Self {
                kind,
                layout: layout.to_owned(),
                month,
                sender,
                sender_type,
                receiver,
                receiver_type,
                sequence,
            }),
            _ => Err(issues),
        }
    }

    /// The canonical name (upper case, `.CSV`) from the layout's template.
    pub fn render(&self, spec: &Spec) -> Option<String> {
        let template = spec.layout(&self.layout)?.template(self.kind)?;
        let mut out = Vec::with_capacity(template.tokens.len());
        for token in &template.tokens {
            out.push(match token.as_str() {
                "{month}" | "{month-or-zero}" => self.month?.render(),
                "{sender}" => self.sender.to_string(),
                "{receiver}" => self.receiver.to_string(),
                "{sender-type}" => self.sender_type.as_ref()?.render(),
                "{receiver-type}" => self.receiver_type.as_ref()?.render(),
                "{sequence}" => self.sequence.to_string(),
                literal => literal.to_owned(),
            });
        }
        Some(format!("{}.CSV", out.join("_")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec::embedded().unwrap()
    }

    #[test]
    fn v4_and_v3_names_parse_and_render_back() {
        let spec = spec();
        for name in [
            "UPPLAN_202505_1370000018_43_1370000026_11_20250425103000.CSV",
            "UPHOSOKU_000000_1370000018_43_1370000026_11_20250425103000.CSV",
            "UP1KYO_1370000018_43_1370000026_11_20250425103000.CSV",
            "DLTJSK_202505_1370000026_11_1370000018_43_20250601090000.CSV",
            "UPPLAN_202301_1370000018_1370000026_20221225103000.CSV",
        ] {
            let parsed = FileName::parse(name, &spec).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(parsed.render(&spec).as_deref(), Some(name));
        }
        let lower = FileName::parse("upplan_202505_1370000018_43_1370000026_11_20250425103000.csv", &spec).unwrap();
        assert_eq!(lower.layout, "v4");
        assert_eq!(lower.service_month(), YearMonth::new(2025, 5));
    }

    #[test]
    fn the_spec_sample_office_numbers_fail_their_check_digit() {
        let issues = FileName::parse("UPPLAN_201912_0300000100_0300000005_20191025200201.CSV", &spec()).unwrap_err();
        let codes: Vec<_> = issues.iter().map(|i| i.code).collect();
        assert_eq!(codes, vec!["BAD_CHECK_DIGIT", "BAD_CHECK_DIGIT"]);
    }

    #[test]
    fn bad_names_list_every_problem() {
        let spec = spec();
        let codes = |name: &str| -> Vec<&'static str> {
            FileName::parse(name, &spec).err().unwrap_or_default().iter().map(|i| i.code).collect()
        };
        assert_eq!(
            codes("UPPLAN_202513_1370000018_43_1370000026_1_20250231103000.CSV"),
            vec!["BAD_FILE_NAME", "BAD_FILE_NAME", "BAD_FILE_SEQUENCE"]
        );
        assert_eq!(codes("UPXXX_202505.CSV"), vec!["UNKNOWN_FILE_KIND"]);
        assert_eq!(codes("UPPLAN_202505.CSV"), vec!["BAD_FILE_NAME"]);
        assert_eq!(codes("UPPLAN_202505_1370000018_43_1370000026_11_20250425103000.TXT"), vec!["BAD_FILE_NAME"]);
        // 第3表 has no v3 name.
        assert_eq!(codes("UP3KYO_1370000018_1370000026_20250425103000.CSV"), vec!["BAD_FILE_NAME"]);
        // Nor have the 介護予防 files; and the example's UPKIHON_000000_… has a month the pattern lacks.
        assert_eq!(codes("UPKIHON_1370000018_1370000026_20250425103000.CSV"), vec!["BAD_FILE_NAME"]);
        assert_eq!(codes("UPKIHON_000000_1370000018_46_1370000026_11_20250425103000.CSV"), vec!["BAD_FILE_NAME"]);
    }

    #[test]
    fn prevention_names_match_whole_tokens() {
        let spec = spec();
        for (name, kind) in [
            ("UPKIHON_1370000018_46_1370000026_11_20250425103000.CSV", FormKind::PreventionBasic),
            ("UPKIHON_SUB1_1370000018_46_1370000026_11_20250425103000.CSV", FormKind::PreventionSchedule),
            ("UPKIHON_SUB2_1370000018_46_1370000026_11_20250425103000.CSV", FormKind::PreventionHistory),
            ("DLTKIHON_1370000018_46_1370000026_11_20250425103000.CSV", FormKind::PreventionBasicDelete),
            ("UPYOBO_1370000018_46_1370000026_11_20250425103000.CSV", FormKind::PreventionPlan),
            ("UPYOBO_SUB_1370000018_46_1370000026_11_20250425103000.CSV", FormKind::PreventionPlanDetail),
            ("DLTYOBO_1370000018_46_1370000026_11_20250425103000.CSV", FormKind::PreventionPlanDelete),
        ] {
            let parsed = FileName::parse(name, &spec).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(parsed.kind, kind, "{name}");
            assert_eq!(parsed.layout, "v4");
            assert_eq!(parsed.month, None);
            assert_eq!(parsed.render(&spec).as_deref(), Some(name));
        }
        // A prefix is a whole token: UPKIHONX is no kind, UPKIHON_SUB3 no 別表.
        let codes = |name: &str| -> Vec<&'static str> {
            FileName::parse(name, &spec).err().unwrap_or_default().iter().map(|i| i.code).collect()
        };
        assert_eq!(codes("UPKIHONX_1370000018_46_1370000026_11_20250425103000.CSV"), vec!["UNKNOWN_FILE_KIND"]);
        assert_eq!(codes("UPKIHON_SUB3_1370000018_46_1370000026_11_20250425103000.CSV"), vec!["BAD_FILE_NAME"]);
    }
}
