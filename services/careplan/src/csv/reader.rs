//! Reads one file: name, encoding, structure, column count, typed columns, row rules, the
//! CSVバージョン rules and the per-person rules. Every problem becomes an [`Issue`] with line,
//! column and code; nothing panics on any input (see the property test and the fuzz target).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::domain::file_name::FileName;
use crate::domain::forms::{
    ActualsDeleteRow, AnnexRow, Plan1DeleteRow, Plan1Row, Plan2Row, Plan3Row, PreventionBasicDeleteRow,
    PreventionBasicRow, PreventionHistoryRow, PreventionPlanDeleteRow, PreventionPlanDetailRow, PreventionPlanRow,
    PreventionScheduleRow, SupplementRow, UsageDeleteRow, UsageRow,
};
use crate::domain::issue::{Issue, Issues};
use crate::domain::kind::FormKind;
use crate::domain::model::{CarePlanFile, Records};
use crate::domain::rules::{FormRules, PersonKey, RowCtx, SetKey};
use crate::domain::spec::{Layout, LetteredOfficeCheck, Spec};
use crate::domain::values::YearMonthOrZero;
use kaigo_platform::ids::CareOfficeNumber;

use super::tokenizer::{LineEnding, RawRecord, Tokenizer, locate};
use super::{Verbatim, WireStyle, canonical_field, decode, looks_like_utf8};

/// What reading one file found.
#[derive(Debug, Clone)]
pub struct FileSummary {
    /// The name as given.
    pub file_name: String,
    pub name: Option<FileName>,
    pub kind: Option<FormKind>,
    /// CSVバージョン of the first record.
    pub csv_version: Option<String>,
    /// Data records (a skipped header not counted).
    pub record_count: u32,
    /// The persons (保険者番号 + 被保険者番号) of records that belong to no set (deletions);
    /// [`FileSummary::persons`] gives every person.
    pub unset_persons: HashSet<PersonKey>,
    /// The sets the records belong to (person and plan date or month), with the first line of
    /// each: what the records of one send unit must agree on. A person is kept once, here or
    /// in `unset_persons`, so a 10,000-person file stays small.
    pub sets: BTreeMap<(PersonKey, SetKey), u32>,
    /// Every issue, in line order.
    pub issues: Vec<Issue>,
}

impl FileSummary {
    /// Every person in the file.
    pub fn persons(&self) -> HashSet<&PersonKey> {
        self.sets.keys().map(|(p, _)| p).chain(&self.unset_persons).collect()
    }

    /// True when no issue is an error.
    pub fn valid(&self) -> bool {
        !self.issues.iter().any(Issue::is_error)
    }
}

/// A file read into the model with its formatting facts; `file` is `None` when it has errors.
#[derive(Debug, Clone)]
pub struct ReadOutcome {
    pub file: Option<CarePlanFile>,
    pub style: WireStyle,
    pub summary: FileSummary,
}

/// Reads and validates one file, keeping its rows.
pub fn read_file(file_name: &str, bytes: &[u8], spec: &Spec) -> ReadOutcome {
    read(file_name, bytes, spec, true)
}

/// Validates one file without keeping its rows: memory stays bounded by the persons in it.
pub fn scan_file(file_name: &str, bytes: &[u8], spec: &Spec) -> FileSummary {
    read(file_name, bytes, spec, false).summary
}

fn read(file_name: &str, bytes: &[u8], spec: &Spec, keep: bool) -> ReadOutcome {
    let mut issues = Issues::default();
    let name = match FileName::parse(file_name, spec) {
        Ok(name) => {
            // Accepted only under `lettered_office_check_digit = "warn"`.
            for (what, office) in [("sender", &name.sender), ("receiver", &name.receiver)] {
                if CareOfficeNumber::parse(office.as_str()).is_err() {
                    issues.push(
                        lettered_issue(LetteredOfficeCheck::Warn, &format!("file name: {what} office number"))
                            .of_name(),
                    );
                }
            }
            Some(name)
        }
        Err(found) => {
            found.into_iter().for_each(|i| issues.push(i));
            None
        }
    };
    let upper = file_name.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split('_').collect();
    let kind = name.as_ref().map(|n| n.kind).or_else(|| FormKind::from_name_parts(&parts));
    let mut summary = FileSummary {
        file_name: file_name.to_owned(),
        name: None,
        kind,
        csv_version: None,
        record_count: 0,
        unset_persons: HashSet::new(),
        sets: BTreeMap::new(),
        issues: Vec::new(),
    };
    let mut style = WireStyle::default();
    if looks_like_utf8(bytes) {
        issues.push(
            Issue::error("WRONG_ENCODING", "the file is UTF-8; the standard files are MS932 (Shift_JIS)").at(1, 0),
        );
    }
    let records = kind.filter(|_| !looks_like_utf8(bytes)).map(|kind| {
        let mut reader = FileReader {
            spec,
            bytes,
            kind,
            name: name.as_ref(),
            keep,
            issues: &mut issues,
            style: &mut style,
            summary: &mut summary,
        };
        match kind {
            FormKind::Supplement => Records::Supplement(reader.run::<SupplementRow>()),
            FormKind::Plan1 => Records::Plan1(reader.run::<Plan1Row>()),
            FormKind::Plan1Delete => Records::Plan1Delete(reader.run::<Plan1DeleteRow>()),
            FormKind::Plan2 => Records::Plan2(reader.run::<Plan2Row>()),
            FormKind::Plan3 => Records::Plan3(reader.run::<Plan3Row>()),
            FormKind::UsagePlan | FormKind::Actuals => Records::Usage(reader.run::<UsageRow>()),
            FormKind::UsagePlanDelete => Records::UsageDelete(reader.run::<UsageDeleteRow>()),
            FormKind::ActualsDelete => Records::ActualsDelete(reader.run::<ActualsDeleteRow>()),
            FormKind::UsageAnnex => Records::Annex(reader.run::<AnnexRow>()),
            FormKind::PreventionBasic => Records::PreventionBasic(reader.run::<PreventionBasicRow>()),
            FormKind::PreventionBasicDelete => Records::PreventionBasicDelete(reader.run::<PreventionBasicDeleteRow>()),
            FormKind::PreventionSchedule => Records::PreventionSchedule(reader.run::<PreventionScheduleRow>()),
            FormKind::PreventionHistory => Records::PreventionHistory(reader.run::<PreventionHistoryRow>()),
            FormKind::PreventionPlan => Records::PreventionPlan(reader.run::<PreventionPlanRow>()),
            FormKind::PreventionPlanDetail => Records::PreventionPlanDetail(reader.run::<PreventionPlanDetailRow>()),
            FormKind::PreventionPlanDelete => Records::PreventionPlanDelete(reader.run::<PreventionPlanDeleteRow>()),
        }
    });
    summary.issues = issues.into_vec().into_iter().map(|i| i.in_file(file_name)).collect();
    summary.issues.sort_by_key(|i| (i.line, i.column));
    summary.name = name.clone();
    let file = match (name, records) {
        (Some(name), Some(records)) if keep && summary.valid() => Some(CarePlanFile { name, records }),
        _ => None,
    };
    if file.is_none() {
        style = WireStyle::default();
    }
    ReadOutcome { file, style, summary }
}

struct FileReader<'a> {
    spec: &'a Spec,
    bytes: &'a [u8],
    kind: FormKind,
    name: Option<&'a FileName>,
    keep: bool,
    issues: &'a mut Issues,
    style: &'a mut WireStyle,
    summary: &'a mut FileSummary,
}

/// The decoded text of each wire field of a record, or `None` after an encoding or syntax error.
fn decode_fields(bytes: &[u8], record: &RawRecord, issues: &mut Issues) -> Option<Vec<String>> {
    let mut ok = record.errors.is_empty();
    for e in &record.errors {
        let (line, offset) = locate(bytes, record.line, record.line_start, e.position);
        issues.push(Issue::error(e.code, e.message).at(line, e.field as u32 + 1).offset(offset as u32));
    }
    let mut texts = Vec::with_capacity(record.fields.len());
    for (i, range) in record.fields.iter().enumerate() {
        match decode(&bytes[range.clone()]) {
            Ok(text) => texts.push(unquote(&text)),
            Err(e) => {
                ok = false;
                let (line, offset) = locate(bytes, record.line, record.line_start, range.start + e.offset);
                let message = if e.code == "GAIJI" {
                    "外字 (the user-defined area) is not allowed; convert it to an MS932 character"
                } else {
                    "the bytes are not MS932 (Shift_JIS) text"
                };
                issues.push(Issue::error(e.code, message).at(line, i as u32 + 1).offset(offset as u32));
            }
        }
    }
    ok.then_some(texts)
}

/// The layout of the file name, else of the first record's CSVバージョン, else the latest.
fn pick_layout<'s>(spec: &'s Spec, name: Option<&FileName>, first_version: Option<&str>) -> &'s Layout {
    let by_name = name.and_then(|n| spec.layout(&n.layout));
    let by_version = first_version.and_then(|v| spec.version(v)).and_then(|v| spec.layout(&v.layout));
    let latest = spec.versions.last().and_then(|v| spec.layout(&v.layout));
    match by_name.or(by_version).or(latest).or_else(|| spec.layouts.values().next()) {
        Some(layout) => layout,
        None => unreachable!("Spec::parse refuses spec data without layouts"),
    }
}

/// The problem of an office number with a letter at position 3 whose check digit fails: an
/// error or a warning as `careplan.lettered_office_check_digit` says (the rule for letters is
/// UNCONFIRMED, docs/domain/careplan-csv.md#settings).
fn lettered_issue(check: LetteredOfficeCheck, what: &str) -> Issue {
    let message = format!("{what}: the check digit does not match (the rule for letters at position 3 is unconfirmed)");
    match check {
        LetteredOfficeCheck::Strict => Issue::error("BAD_CHECK_DIGIT", message),
        LetteredOfficeCheck::Warn => Issue::warning("BAD_CHECK_DIGIT", message),
    }
}

fn unquote(text: &str) -> String {
    match text.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').unwrap_or(rest).replace("\"\"", "\""),
        None => text.to_owned(),
    }
}

impl FileReader<'_> {
    fn run<R: FormRules>(&mut self) -> Vec<R> {
        let mut rows = Vec::new();
        let records = Tokenizer::new(self.bytes);
        let mut file_version: Option<String> = None;
        let mut version_checked = false;
        let mut totals: HashMap<PersonKey, (u32, u32)> = HashMap::new();
        let mut first_ending = None;
        let mut endings: BTreeMap<usize, LineEnding> = BTreeMap::new();
        let mut last_ending = None;
        let mut index = 0usize;
        let mut layout_checked = false;
        // The name's fields after the prefix, for rules that refer to them (利用者基本情報 No.62).
        let name_fields = self.name.and_then(|n| n.render(self.spec)).and_then(|rendered| {
            let stem = rendered.strip_suffix(".CSV")?;
            stem.get(self.kind.prefix().len() + 1..).map(str::to_owned)
        });
        for record in records {
            let texts = decode_fields(self.bytes, &record, self.issues);
            if record.line_start == 0
                && let Some(first) = texts.as_ref().and_then(|t| t.first())
                && !first.is_empty()
                && !first.bytes().all(|b| b.is_ascii_digit())
            {
                self.issues.push(
                    Issue::warning(
                        "HEADER_ROW_SKIPPED",
                        "the first line is not data (column 1 is not a CSVバージョン) and was skipped",
                    )
                    .at(record.line, 1),
                );
                let end = record.fields.last().map_or(0, |f| f.end) + record.ending.map_or(0, |e| e.bytes().len());
                self.style.header = Some(self.bytes[..end].to_vec());
                continue;
            }
            match first_ending {
                None => first_ending = Some(record.ending),
                Some(first) if record.ending != first => {
                    if let Some(ending) = record.ending {
                        endings.insert(index, ending);
                    }
                }
                Some(_) => {}
            }
            last_ending = Some(record.ending);
            let record_index = index;
            index += 1;
            self.summary.record_count += 1;
            let Some(texts) = texts else { continue };
            let version_hint = texts.first().map(String::as_str);
            let layout = pick_layout(self.spec, self.name, version_hint);
            if !layout.forms.contains(&self.kind) && !layout_checked {
                layout_checked = true;
                self.issues.push(
                    Issue::error(
                        "FORM_NOT_IN_VERSION",
                        format!("{} does not exist in layout {}", self.kind, layout.id),
                    )
                    .at(record.line, 0),
                );
            }
            let wire = layout.wire_columns(self.kind, R::COLUMNS.len());
            if texts.len() == 1 && texts[0].is_empty() {
                self.issues.push(Issue::error("BLANK_LINE", "an empty line is not a record").at(record.line, 0));
                continue;
            }
            if texts.len() != wire.len() {
                self.issues.push(
                    Issue::error(
                        "COLUMN_COUNT",
                        format!(
                            "{} has {} columns in layout {}, found {}",
                            self.kind,
                            wire.len(),
                            layout.id,
                            texts.len()
                        ),
                    )
                    .at(record.line, 0),
                );
                continue;
            }
            let mut cells = vec![""; R::COLUMNS.len()];
            for (text, &no) in texts.iter().zip(&wire) {
                cells[no - 1] = text;
            }
            let column_of = |no: usize| wire.iter().position(|&n| n == no).map_or(0, |p| p as u32 + 1);
            let mut broken = false;
            for &no in &wire {
                let column = &R::COLUMNS[no - 1];
                if cells[no - 1].is_empty() && !column.required && layout.also_required(self.kind, no) {
                    broken = true;
                    self.issues.push(
                        Issue::error("REQUIRED_MISSING", format!("{} (No.{no}) is required", column.name))
                            .at(record.line, column_of(no)),
                    );
                }
            }
            let row = match R::from_cells(&cells) {
                Ok(row) => row,
                Err(errors) => {
                    for (i, e) in errors {
                        let column = &R::COLUMNS[i];
                        self.issues.push(
                            Issue::error(e.code, format!("{} (No.{}): {}", column.name, column.no, e.message))
                                .at(record.line, column_of(i + 1)),
                        );
                    }
                    continue;
                }
            };
            // Office numbers with a letter whose check digit fails, as the setting says.
            for &no in &wire {
                let column = &R::COLUMNS[no - 1];
                let text = cells[no - 1];
                if column.office_number
                    && !text.is_empty()
                    && text != "9999999999"
                    && CareOfficeNumber::parse(text).is_err()
                {
                    let check = self.spec.settings.lettered_office;
                    broken |= check == LetteredOfficeCheck::Strict;
                    let what = format!("{} (No.{no})", column.name);
                    self.issues.push(lettered_issue(check, &what).at(record.line, column_of(no)));
                }
            }
            // CSVバージョン: known, matching the name's layout, in force for the month, not mixed.
            let version = row.csv_version().0.clone();
            match &file_version {
                None => {
                    file_version = Some(version.clone());
                    self.summary.csv_version = Some(version.clone());
                }
                Some(v) if *v != version => {
                    broken = true;
                    self.issues.push(
                        Issue::error("MIXED_CSV_VERSION", "a file must not mix records of different CSVバージョン")
                            .at(record.line, 1),
                    );
                }
                Some(_) => {}
            }
            if !version_checked {
                version_checked = true;
                broken |= !self.check_version(&version, layout, record.line);
            }
            let ctx = RowCtx {
                kind: self.kind,
                layout,
                limits: &self.spec.limits,
                service_types: &self.spec.service_types,
                name_month: self.name.and_then(|n| n.month),
                name_fields: name_fields.as_deref(),
            };
            let mut findings = Vec::new();
            row.check(&ctx, &mut findings);
            for f in findings {
                broken = true;
                self.issues.push(Issue::error(f.code, f.message).at(record.line, column_of(f.column_no)));
            }
            let person = row.person();
            if R::needs_total_row() {
                let entry = totals.entry(person.clone()).or_insert((record.line, 0));
                entry.1 += u32::from(row.is_total_row());
            }
            match row.set_key() {
                Some(set) => {
                    self.summary.sets.entry((person, set)).or_insert(record.line);
                }
                None => {
                    self.summary.unset_persons.insert(person);
                }
            }
            if broken || !self.keep {
                continue;
            }
            self.record_verbatim::<R>(&row, &record, &wire, record_index);
            rows.push(row);
        }
        if self.summary.record_count == 0 {
            self.issues.push(Issue::error("EMPTY_FILE", "the file has no records"));
        }
        let mut missing: Vec<_> = totals.values().filter(|(_, n)| *n != 1).map(|(line, n)| (*line, *n)).collect();
        missing.sort_unstable();
        for (line, n) in missing {
            let message = if n == 0 {
                "each person needs one grand-total row (サービスコード 999999)"
            } else {
                "a person has more than one grand-total row"
            };
            self.issues.push(Issue::error("TOTAL_ROW", message).at(line, 9));
        }
        if let Some(Some(ending)) = first_ending {
            self.style.line_ending = ending;
        }
        self.style.endings = endings;
        self.style.final_newline = !matches!(last_ending, Some(None));
        rows
    }

    /// Checks the CSVバージョン of the first row; true when it is acceptable.
    fn check_version(&mut self, version: &str, layout: &Layout, line: u32) -> bool {
        let Some(known) = self.spec.version(version) else {
            let values: Vec<_> = self.spec.versions.iter().map(|v| v.value.as_str()).collect();
            self.issues.push(
                Issue::error("UNKNOWN_CSV_VERSION", format!("CSVバージョン must be one of {}", values.join(", ")))
                    .at(line, 1),
            );
            return false;
        };
        if known.layout != layout.id {
            self.issues.push(
                Issue::error(
                    "VERSION_LAYOUT_MISMATCH",
                    format!(
                        "CSVバージョン {version} uses layout {}, but the file name follows layout {}",
                        known.layout, layout.id
                    ),
                )
                .at(line, 1),
            );
            return false;
        }
        if let Some(YearMonthOrZero::Month(month)) = self.name.and_then(|n| n.month)
            && !self.spec.versions_for_month(month).iter().any(|v| v.value == version)
        {
            self.issues.push(
                Issue::error(
                    "VERSION_NOT_IN_FORCE",
                    format!("CSVバージョン {version} does not apply to service month {month}"),
                )
                .at(line, 1),
            );
            return false;
        }
        true
    }

    /// Remembers every field whose bytes differ from what the writer would produce.
    fn record_verbatim<R: FormRules>(&mut self, row: &R, record: &RawRecord, wire: &[usize], index: usize) {
        let cells = row.to_cells();
        let mut canonical = Vec::new();
        for (col, (&no, range)) in wire.iter().zip(&record.fields).enumerate() {
            let text = &cells[no - 1];
            let free_text = R::COLUMNS[no - 1].free_text;
            canonical.clear();
            let raw = &self.bytes[range.clone()];
            if canonical_field(text, free_text, &mut canonical).is_err() || canonical != raw {
                if free_text && !text.is_empty() && raw.first() != Some(&b'"') {
                    self.issues.push(
                        Issue::warning(
                            "FREE_TEXT_NOT_QUOTED",
                            "free text (フリーテキスト) is written in double quotes",
                        )
                        .at(record.line, col as u32 + 1),
                    );
                }
                self.style.verbatim.insert((index, col), Verbatim { canonical: text.clone(), raw: raw.to_vec() });
            }
        }
    }
}
