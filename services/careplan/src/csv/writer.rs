//! Writes the model as a standard CSV file: MS932, CRLF, free text quoted (or the recorded
//! [`WireStyle`] of a file that was read). Text that MS932 cannot hold is refused with its
//! record, column and character position: the spec wants the writer's caller to convert it.

use crate::domain::forms::{
    ActualsDeleteRow, AnnexRow, Plan1DeleteRow, Plan1Row, Plan2Row, Plan3Row, PreventionBasicDeleteRow,
    PreventionBasicRow, PreventionHistoryRow, PreventionPlanDeleteRow, PreventionPlanDetailRow, PreventionPlanRow,
    PreventionScheduleRow, SupplementRow, UsageDeleteRow, UsageRow,
};
use crate::domain::issue::Issue;
use crate::domain::model::{CarePlanFile, Records};
use crate::domain::rules::FormRules;
use crate::domain::spec::Spec;

use super::{WireStyle, canonical_field};

/// Renders `file`; with `style`, replays the formatting facts of the file it was read from.
pub fn write_file(file: &CarePlanFile, style: Option<&WireStyle>, spec: &Spec) -> Result<Vec<u8>, Vec<Issue>> {
    let canonical = WireStyle::default();
    let style = style.unwrap_or(&canonical);
    let Some(layout) = spec.layout(&file.name.layout) else {
        return Err(vec![Issue::error("UNKNOWN_LAYOUT", "the file name's layout is not in the spec data")]);
    };
    let ctx = Writer { spec, layout_id: &layout.id, style, kind: file.name.kind };
    let wire = |n: usize| layout.wire_columns(file.name.kind, n);
    match &file.records {
        Records::Supplement(rows) => ctx.write::<SupplementRow>(rows, &wire(63)),
        Records::Plan1(rows) => ctx.write::<Plan1Row>(rows, &wire(28)),
        Records::Plan1Delete(rows) => ctx.write::<Plan1DeleteRow>(rows, &wire(4)),
        Records::Plan2(rows) => ctx.write::<Plan2Row>(rows, &wire(22)),
        Records::Plan3(rows) => ctx.write::<Plan3Row>(rows, &wire(13)),
        Records::Usage(rows) => ctx.write::<UsageRow>(rows, &wire(25)),
        Records::UsageDelete(rows) => ctx.write::<UsageDeleteRow>(rows, &wire(4)),
        Records::ActualsDelete(rows) => ctx.write::<ActualsDeleteRow>(rows, &wire(6)),
        Records::Annex(rows) => ctx.write::<AnnexRow>(rows, &wire(37)),
        Records::PreventionBasic(rows) => ctx.write::<PreventionBasicRow>(rows, &wire(71)),
        Records::PreventionBasicDelete(rows) => ctx.write::<PreventionBasicDeleteRow>(rows, &wire(4)),
        Records::PreventionSchedule(rows) => ctx.write::<PreventionScheduleRow>(rows, &wire(7)),
        Records::PreventionHistory(rows) => ctx.write::<PreventionHistoryRow>(rows, &wire(11)),
        Records::PreventionPlan(rows) => ctx.write::<PreventionPlanRow>(rows, &wire(57)),
        Records::PreventionPlanDetail(rows) => ctx.write::<PreventionPlanDetailRow>(rows, &wire(17)),
        Records::PreventionPlanDelete(rows) => ctx.write::<PreventionPlanDeleteRow>(rows, &wire(4)),
    }
}

struct Writer<'a> {
    spec: &'a Spec,
    layout_id: &'a str,
    style: &'a WireStyle,
    kind: crate::domain::kind::FormKind,
}

impl Writer<'_> {
    fn write<R: FormRules>(&self, rows: &[R], wire: &[usize]) -> Result<Vec<u8>, Vec<Issue>> {
        let mut issues = Vec::new();
        let mut out = Vec::new();
        let header_lines = u32::from(self.style.header.is_some());
        if let Some(header) = &self.style.header {
            out.extend_from_slice(header);
        }
        let mut version = None;
        for (index, row) in rows.iter().enumerate() {
            let line = index as u32 + 1 + header_lines;
            let v = &row.csv_version().0;
            match version {
                None => {
                    version = Some(v.clone());
                    if self.spec.version(v).is_none_or(|known| known.layout != self.layout_id) {
                        issues.push(
                            Issue::error(
                                "VERSION_LAYOUT_MISMATCH",
                                format!("CSVバージョン does not belong to layout {}", self.layout_id),
                            )
                            .at(line, 1),
                        );
                    }
                }
                Some(ref first) if first != v => {
                    issues.push(
                        Issue::error("MIXED_CSV_VERSION", "a file must not mix records of different CSVバージョン")
                            .at(line, 1),
                    );
                }
                Some(_) => {}
            }
            let cells = row.to_cells();
            for (col, &no) in wire.iter().enumerate() {
                if col > 0 {
                    out.push(b',');
                }
                let text = &cells[no - 1];
                match self.style.verbatim.get(&(index, col)) {
                    Some(v) if v.canonical == *text => out.extend_from_slice(&v.raw),
                    _ => {
                        if let Err(e) = canonical_field(text, R::COLUMNS[no - 1].free_text, &mut out) {
                            issues.push(
                                Issue::error(
                                    "NOT_MS932",
                                    format!(
                                        "{} of {}: character {} is outside MS932; convert it to an MS932 character",
                                        R::COLUMNS[no - 1].name,
                                        self.kind,
                                        e.char_position + 1
                                    ),
                                )
                                .at(line, col as u32 + 1),
                            );
                        }
                    }
                }
            }
            let last = index + 1 == rows.len();
            if !last || self.style.final_newline {
                let ending = self.style.endings.get(&index).copied().unwrap_or(self.style.line_ending);
                out.extend_from_slice(ending.bytes());
            }
        }
        if issues.is_empty() { Ok(out) } else { Err(issues) }
    }
}
