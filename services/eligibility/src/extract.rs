//! The insured-person extract as CSV: what `kaigo gen insured` writes and
//! `kaigo import insured` reads. One row per person with their current periods; a header row
//! names the columns in snake_case, in any order (only `insurer_number` and `insured_number`
//! are required columns).

use std::collections::HashMap;

use chrono::NaiveDate;
use kaigo_proto::from_naive_date;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;

use crate::api::convert::care_level_to_wire;
use crate::domain::Detail;
use crate::domain::timeline::CostStage;
use crate::seed::Synthetic;

/// The columns `kaigo gen insured` writes, in order.
pub const COLUMNS: [&str; 24] = [
    "insurer_number",
    "insured_number",
    "name_kanji",
    "name_kana",
    "birth_date",
    "sex",
    "insured_category",
    "qualification_acquired_date",
    "qualification_lost_date",
    "card_issued_date",
    "care_level",
    "certified_date",
    "certification_start",
    "certification_end",
    "limit_units",
    "copayment_ratio",
    "copayment_start",
    "copayment_end",
    "cost_limit_stage",
    "cost_limit_start",
    "cost_limit_end",
    "care_office_number",
    "care_office_name",
    "care_office_start",
];

fn d(date: Option<NaiveDate>) -> String {
    date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field.to_owned() }
}

/// One synthetic person as a CSV line (no newline).
pub fn to_csv(s: &Synthetic) -> String {
    let mut cols: HashMap<&str, String> = HashMap::new();
    let p = &s.person;
    cols.insert("insurer_number", p.insurer_number.clone());
    cols.insert("insured_number", p.insured_number.clone());
    cols.insert("name_kanji", p.name_kanji.clone());
    cols.insert("name_kana", p.name_kana.clone());
    cols.insert("birth_date", d(p.birth_date));
    cols.insert("sex", p.sex.to_string());
    cols.insert("insured_category", p.category.to_string());
    cols.insert("qualification_acquired_date", d(p.acquired_date));
    cols.insert("qualification_lost_date", d(p.lost_date));
    cols.insert("card_issued_date", d(p.card_issued_date));
    for (start, end, detail) in &s.periods {
        match detail {
            Detail::Certification { level, certified, limit_units, .. } => {
                cols.insert("care_level", level.code().to_owned());
                cols.insert("certified_date", d(Some(*certified)));
                cols.insert("certification_start", d(Some(*start)));
                cols.insert("certification_end", d(*end));
                cols.insert("limit_units", limit_units.to_string());
            }
            Detail::Copayment { tenths } => {
                cols.insert("copayment_ratio", tenths.to_string());
                cols.insert("copayment_start", d(Some(*start)));
                cols.insert("copayment_end", d(*end));
            }
            Detail::CostLimit { stage, .. } => {
                let code = match stage {
                    CostStage::First => "1",
                    CostStage::Second => "2",
                    CostStage::Third1 => "3-1",
                    CostStage::Third2 => "3-2",
                };
                cols.insert("cost_limit_stage", code.to_owned());
                cols.insert("cost_limit_start", d(Some(*start)));
                cols.insert("cost_limit_end", d(*end));
            }
            Detail::CareManagement { office_number, office_name, .. } => {
                cols.insert("care_office_number", office_number.clone());
                cols.insert("care_office_name", office_name.clone());
                cols.insert("care_office_start", d(Some(*start)));
            }
            // The qualification travels in the person's own pair columns (one span a row).
            Detail::BenefitRestriction { .. } | Detail::ResidenceException { .. } | Detail::Qualification { .. } => {}
        }
    }
    COLUMNS.iter().map(|c| quote(cols.get(c).map_or("", String::as_str))).collect::<Vec<_>>().join(",")
}

/// Splits one CSV line (RFC 4180 quoting; fields never span lines in an extract).
pub fn split(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field");
    }
    fields.push(field);
    Ok(fields)
}

/// The column positions of a header line.
pub struct Header {
    index: HashMap<String, usize>,
    width: usize,
}

impl Header {
    /// Parses the header; requires `insurer_number` and `insured_number`, refuses unknown or
    /// repeated columns.
    pub fn parse(line: &str) -> Result<Self, String> {
        let names = split(line.trim_start_matches('\u{feff}')).map_err(str::to_owned)?;
        let mut index = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let name = name.trim();
            if !COLUMNS.contains(&name) {
                return Err(format!("unknown column {name:?}; known columns: {}", COLUMNS.join(", ")));
            }
            if index.insert(name.to_owned(), i).is_some() {
                return Err(format!("column {name:?} appears twice"));
            }
        }
        for required in ["insurer_number", "insured_number"] {
            if !index.contains_key(required) {
                return Err(format!("the header needs a {required} column"));
            }
        }
        Ok(Self { index, width: names.len() })
    }
}

fn date(fields: &HashMap<&str, &str>, name: &str) -> Result<Option<kaigo_proto::google::r#type::Date>, String> {
    match fields.get(name).copied().unwrap_or("") {
        "" => Ok(None),
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|d| Some(from_naive_date(d)))
            .map_err(|_| format!("{name}: expected a date as YYYY-MM-DD")),
    }
}

fn number(fields: &HashMap<&str, &str>, name: &str) -> Result<i32, String> {
    match fields.get(name).copied().unwrap_or("") {
        "" => Ok(0),
        text => text.parse().map_err(|_| format!("{name}: expected a number")),
    }
}

fn care_level(code: &str) -> Result<i32, String> {
    use crate::domain::CareLevel as L;
    let level = [
        L::NotApplicable,
        L::Transitional,
        L::Support1,
        L::Support2,
        L::Care1,
        L::Care2,
        L::Care3,
        L::Care4,
        L::Care5,
        L::ProgrammeEligible,
    ]
    .into_iter()
    .find(|l| l.code() == code)
    .ok_or_else(|| format!("care_level: {code:?} is not a 要介護状態区分 code (01, 11, 12, 13, 21-25, 06)"))?;
    Ok(care_level_to_wire(level) as i32)
}

/// One data line as an import row; the server validates the content.
pub fn parse_row(header: &Header, line_number: i64, line: &str) -> Result<pb::ImportRow, String> {
    let values = split(line).map_err(str::to_owned)?;
    if values.len() != header.width {
        return Err(format!("expected {} columns, found {}", header.width, values.len()));
    }
    let fields: HashMap<&str, &str> =
        header.index.iter().map(|(name, i)| (name.as_str(), values[*i].as_str())).collect();
    let get = |name: &str| fields.get(name).copied().unwrap_or("").to_owned();
    let person = pb::InsuredPerson {
        insurer_number: get("insurer_number"),
        insured_number: get("insured_number"),
        name_kanji: get("name_kanji"),
        name_kana: get("name_kana"),
        birth_date: date(&fields, "birth_date")?,
        sex: number(&fields, "sex")?,
        insured_category: number(&fields, "insured_category")?,
        qualification_acquired_date: date(&fields, "qualification_acquired_date")?,
        qualification_lost_date: date(&fields, "qualification_lost_date")?,
        card_issued_date: date(&fields, "card_issued_date")?,
        ..Default::default()
    };
    let period = |start: &str, end: &str| -> Result<Option<common::Period>, String> {
        Ok(Some(common::Period { start: date(&fields, start)?, end: date(&fields, end)? }))
    };
    let mut row = pb::ImportRow { line_number, person: Some(person), ..Default::default() };
    if !get("care_level").is_empty() {
        row.certifications.push(pb::CertificationPeriod {
            care_level: care_level(&get("care_level"))?,
            certified_date: date(&fields, "certified_date")?,
            validity: period("certification_start", "certification_end")?,
            limit_units_per_month: number(&fields, "limit_units")?,
            ..Default::default()
        });
    }
    if !get("copayment_ratio").is_empty() {
        row.copayments.push(pb::CopaymentPeriod {
            ratio: number(&fields, "copayment_ratio")?,
            period: period("copayment_start", "copayment_end")?,
        });
    }
    if !get("cost_limit_stage").is_empty() {
        let stage = match get("cost_limit_stage").as_str() {
            "1" => pb::CostLimitStage::First,
            "2" => pb::CostLimitStage::Second,
            "3-1" => pb::CostLimitStage::Third1,
            "3-2" => pb::CostLimitStage::Third2,
            _ => return Err("cost_limit_stage: expected 1, 2, 3-1 or 3-2".to_owned()),
        };
        row.cost_limits.push(pb::CostLimitPeriod {
            stage: stage as i32,
            period: period("cost_limit_start", "cost_limit_end")?,
            daily_caps: None,
        });
    }
    if !get("care_office_number").is_empty() {
        row.care_managements.push(pb::CareManagementPeriod {
            kind: pb::CareManagementKind::HomeCareSupport as i32,
            office_number: get("care_office_number"),
            office_name: get("care_office_name"),
            notification_date: date(&fields, "care_office_start")?,
            period: Some(common::Period { start: date(&fields, "care_office_start")?, end: None }),
        });
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use kaigo_platform::ids::InsurerNumber;

    use super::*;
    use crate::seed::generate;

    #[test]
    fn generated_lines_parse_back_into_rows() {
        let insurer = InsurerNumber::parse("435073").unwrap();
        let people = generate(&insurer, 1, 50, 3, NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
        let header = Header::parse(&COLUMNS.join(",")).unwrap();
        for (i, p) in people.iter().enumerate() {
            let row = parse_row(&header, i as i64 + 2, &to_csv(p)).unwrap();
            assert_eq!(row.person.unwrap().insured_number, p.person.insured_number);
            assert_eq!(
                row.certifications.len(),
                usize::from(p.periods.iter().any(|x| matches!(x.2, Detail::Certification { .. })))
            );
        }
    }

    #[test]
    fn quoting_and_bad_lines() {
        assert_eq!(split("a,\"b,c\",\"d\"\"e\"").unwrap(), ["a", "b,c", "d\"e"]);
        assert!(split("\"open").is_err());
        assert!(Header::parse("insurer_number,name").is_err());
        assert!(Header::parse("insured_number").is_err());
        let header = Header::parse("insurer_number,insured_number,birth_date").unwrap();
        assert!(parse_row(&header, 2, "435073,0000000001").unwrap_err().contains("columns"));
        assert!(parse_row(&header, 2, "435073,0000000001,1950/01/01").unwrap_err().contains("YYYY-MM-DD"));
    }
}
