//! Send units (送信単位, docs/domain/careplan-csv.md#send-units): the files of one unit share the sequence, the
//! addressing and the month, and together are exactly the unit's required files (spec data).

use std::collections::BTreeMap;

use kaigo_platform::auth::Role;
use kaigo_proto::kaigo::common::v1::Purpose;

use super::file_name::FileName;
use super::issue::Issue;
use super::kind::{FormKind, SenderSide, UnitKind};
use super::rules::{PersonKey, SetKey};
use super::spec::Spec;
use super::values::YearMonthOrZero;

/// The purpose a read of a bundle serves, as the reader's role implies it (the exchange states
/// none): a care office plans, a provider provides the services, an insurer audits.
pub fn read_purpose(role: Role) -> Purpose {
    match role {
        Role::CareOffice => Purpose::CarePlanning,
        Role::ServiceProvider => Purpose::ServiceProvision,
        Role::Insurer => Purpose::Audit,
        Role::MedicalInstitution | Role::InsuredPerson | Role::Operator => Purpose::Unspecified,
    }
}

/// Checks that `names` (the parsed names of the files, in request order) form one unit of
/// `kind`. File-level problems are the reader's; these are the bundle's.
pub fn check_unit(kind: UnitKind, names: &[&FileName], spec: &Spec) -> Vec<Issue> {
    let mut issues = Vec::new();
    let Some(first) = names.first() else {
        issues.push(Issue::error("MISSING_REQUIRED_FILE", format!("a {} unit needs its files", kind.name())));
        return issues;
    };
    let Some(rule) = spec.layout(&first.layout).and_then(|l| l.units.get(&kind)) else {
        issues.push(Issue::error("UNKNOWN_SEND_UNIT", format!("layout {} has no {} unit", first.layout, kind.name())));
        return issues;
    };
    let mut counts: BTreeMap<FormKind, usize> = BTreeMap::new();
    let rendered = |n: &FileName| n.render(spec).unwrap_or_default();
    for name in names {
        *counts.entry(name.kind).or_default() += 1;
        let file = rendered(name);
        if name.sequence != first.sequence {
            issues.push(
                Issue::error("SEQUENCE_MISMATCH", "every file of a send unit carries the same file sequence")
                    .in_file(&file)
                    .of_name(),
            );
        }
        if (&name.sender, &name.sender_type, &name.receiver, &name.receiver_type)
            != (&first.sender, &first.sender_type, &first.receiver, &first.receiver_type)
        {
            issues.push(
                Issue::error("ADDRESS_MISMATCH", "every file of a send unit has the same sender and receiver")
                    .in_file(&file)
                    .of_name(),
            );
        }
        if name.layout != first.layout {
            issues.push(
                Issue::error("LAYOUT_MISMATCH", "a send unit does not mix file-name layouts").in_file(&file).of_name(),
            );
        }
        if !rule.required.contains(&name.kind) && !rule.optional.contains(&name.kind) {
            issues.push(
                Issue::error("UNEXPECTED_FILE", format!("{} is not part of a {} unit", name.kind, kind.name()))
                    .in_file(&file)
                    .of_name(),
            );
        }
    }
    for optional in &rule.optional {
        if counts.get(optional).copied().unwrap_or(0) > 1 {
            issues.push(Issue::error("DUPLICATE_FILE", format!("a {} unit has one {} file", kind.name(), optional)))
        }
    }
    for required in &rule.required {
        match counts.get(required).copied().unwrap_or(0) {
            0 => issues.push(Issue::error(
                "MISSING_REQUIRED_FILE",
                format!("a {} unit needs a {} file", kind.name(), required),
            )),
            1 => {}
            _ => {
                issues.push(Issue::error("DUPLICATE_FILE", format!("a {} unit has one {} file", kind.name(), required)))
            }
        }
    }
    let types = check_service_types(rule.from, first, spec)
        .into_iter()
        // A 介護予防 plan may go to a care office (43/46) as well as to a provider.
        .filter(|i| {
            !(kind.care_office_may_receive()
                && i.code == "SERVICE_TYPE_NOT_EXCHANGED"
                && first.receiver_type.as_ref().is_some_and(|t| spec.service_types.is_care_management(&t.0)))
        });
    issues.extend(types.map(|i| i.in_file(&rendered(first))));
    // The month: one service month across the unit; a PLAN unit's 補足 carries 000000.
    let months: Vec<_> = names.iter().filter_map(|n| n.month.map(|m| (n, m))).collect();
    for (name, month) in &months {
        let fine = match (rule.month, month) {
            (false, YearMonthOrZero::Zero) => true,
            (true, YearMonthOrZero::Month(m)) => {
                Some(*m)
                    == months.iter().find_map(|(_, m)| match m {
                        YearMonthOrZero::Month(m) => Some(*m),
                        YearMonthOrZero::Zero => None,
                    })
            }
            _ => false,
        };
        if !fine {
            issues.push(
                Issue::error("MONTH_MISMATCH", format!("the files of a {} unit share one service month", kind.name()))
                    .in_file(&rendered(name))
                    .of_name(),
            );
        }
    }
    issues
}

/// The service types of a v4 file name (docs/domain/careplan-csv.md#service-types): the care
/// office's side is 居宅介護支援 (43) or 介護予防支援 (46) — for a 予定 unit the sender, for 実績
/// the receiver — and the provider's side is a service type of the exchange. v3 names carry no
/// types.
pub fn check_service_types(from: SenderSide, name: &FileName, spec: &Spec) -> Vec<Issue> {
    let mut issues = Vec::new();
    let (care, provider) = match from {
        SenderSide::CareOffice => (&name.sender_type, &name.receiver_type),
        SenderSide::Provider => (&name.receiver_type, &name.sender_type),
    };
    let side = |from_side: bool| if from_side { "sender" } else { "receiver" };
    if let Some(care) = care
        && !spec.service_types.is_care_management(&care.0)
    {
        issues.push(
            Issue::error(
                "NOT_CARE_MANAGEMENT_TYPE",
                format!(
                    "the care office's ({}) service type is 居宅介護支援 (43) or 介護予防支援 (46)",
                    side(from == SenderSide::CareOffice)
                ),
            )
            .of_name(),
        );
    }
    if let Some(provider) = provider
        && !spec.service_types.is_exchanged(&provider.0)
    {
        issues.push(
            Issue::error(
                "SERVICE_TYPE_NOT_EXCHANGED",
                format!(
                    "the service provider's ({}) service type is outside the care-plan exchange",
                    side(from == SenderSide::Provider)
                ),
            )
            .of_name(),
        );
    }
    issues
}

/// The sets found in one file of a unit: its kind, its name as given and, per (person, plan
/// date or month), the first line.
pub struct FileSets<'a> {
    pub kind: FormKind,
    pub file_name: &'a str,
    pub sets: &'a BTreeMap<(PersonKey, SetKey), u32>,
}

/// The records of one unit agree (docs/domain/careplan-csv.md#keys): every 補足, 第2表, 第3表
/// and 第7表 record belongs to a 第1表 or 第6表 record of the same person and plan date or
/// month, and every 第1表 or 第6表 record has its 補足; a 介護予防 別表 record belongs to its
/// 利用者基本情報 (相談日) or 支援計画書 (計画作成(変更)日) record
/// (docs/domain/careplan-csv.md#prevention-units). Problems name file and line, never the person.
pub fn check_sets(files: &[FileSets<'_>]) -> Vec<Issue> {
    let mut issues = Vec::new();
    let prevention = [
        (FormKind::PreventionBasic, &[FormKind::PreventionSchedule, FormKind::PreventionHistory][..], "相談日"),
        (FormKind::PreventionPlan, &[FormKind::PreventionPlanDetail][..], "計画作成(変更)日"),
    ];
    for (parent_kind, children, what) in prevention {
        let parents: Vec<_> = files.iter().filter(|f| f.kind == parent_kind).collect();
        for child in files.iter().filter(|f| children.contains(&f.kind)) {
            let mut lines: Vec<u32> = child
                .sets
                .iter()
                .filter(|(k, _)| !parents.iter().any(|p| p.sets.contains_key(*k)))
                .map(|(_, line)| *line)
                .collect();
            lines.sort_unstable();
            for line in lines {
                issues.push(
                    Issue::error(
                        "SET_WITHOUT_PARENT",
                        format!("no {} record of this unit has this record's person and {what}", parent_kind.prefix()),
                    )
                    .at(line, 0)
                    .in_file(child.file_name),
                );
            }
        }
    }
    let parent_kind = [FormKind::Plan1, FormKind::UsagePlan].into_iter().find(|k| files.iter().any(|f| f.kind == *k));
    let Some(parent_kind) = parent_kind else { return issues };
    let parent_name = parent_kind.prefix();
    let parents: Vec<_> = files.iter().filter(|f| f.kind == parent_kind).collect();
    let in_parent = |key: &(PersonKey, SetKey)| parents.iter().any(|p| p.sets.contains_key(key));
    let what = match parent_kind {
        FormKind::Plan1 => "居宅サービス計画作成（変更）日",
        _ => "対象年月",
    };
    let children = [FormKind::Supplement, FormKind::Plan2, FormKind::Plan3, FormKind::UsageAnnex];
    for child in files.iter().filter(|f| children.contains(&f.kind)) {
        let mut lines: Vec<u32> = child.sets.iter().filter(|(k, _)| !in_parent(k)).map(|(_, line)| *line).collect();
        lines.sort_unstable();
        for line in lines {
            issues.push(
                Issue::error(
                    "SET_WITHOUT_PARENT",
                    format!("no {parent_name} record of this unit has this record's person and {what}"),
                )
                .at(line, 0)
                .in_file(child.file_name),
            );
        }
    }
    let supplements: Vec<_> = files.iter().filter(|f| f.kind == FormKind::Supplement).collect();
    if !supplements.is_empty() {
        for parent in &parents {
            let mut lines: Vec<u32> = parent
                .sets
                .iter()
                .filter(|(k, _)| !supplements.iter().any(|s| s.sets.contains_key(*k)))
                .map(|(_, line)| *line)
                .collect();
            lines.sort_unstable();
            for line in lines {
                issues.push(
                    Issue::error(
                        "SUPPLEMENT_MISSING",
                        format!("the 利用者補足情報 of this unit has no record with this person and {what}"),
                    )
                    .at(line, 0)
                    .in_file(parent.file_name),
                );
            }
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(names: &[&str]) -> Vec<FileName> {
        let spec = Spec::embedded().unwrap();
        names.iter().map(|n| FileName::parse(n, &spec).unwrap()).collect()
    }

    fn codes(kind: UnitKind, names: &[&str]) -> Vec<&'static str> {
        let spec = Spec::embedded().unwrap();
        let parsed = parse(names);
        let refs: Vec<_> = parsed.iter().collect();
        check_unit(kind, &refs, &spec).iter().map(|i| i.code).collect()
    }

    const TAIL: &str = "1370000018_43_1370000026_11_20250425103000.CSV";

    #[test]
    fn a_complete_usage_ticket_unit_passes() {
        let names =
            [format!("UPPLAN_202505_{TAIL}"), format!("UPSIKYU_202505_{TAIL}"), format!("UPHOSOKU_202505_{TAIL}")];
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(codes(UnitKind::UsageTicket, &refs), Vec::<&str>::new());
    }

    #[test]
    fn a_missing_file_and_other_mismatches_are_all_listed() {
        let names = [
            format!("UPPLAN_202505_{TAIL}"),
            format!("UPHOSOKU_202506_{TAIL}"),
            "UP1KYO_1370000018_43_1370000034_17_20250425103001.CSV".to_owned(),
        ];
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            codes(UnitKind::UsageTicket, &refs),
            vec!["SEQUENCE_MISMATCH", "ADDRESS_MISMATCH", "UNEXPECTED_FILE", "MISSING_REQUIRED_FILE", "MONTH_MISMATCH"]
        );
    }

    #[test]
    fn a_plan_unit_needs_table_3_in_v4_but_not_in_v3() {
        let v4 = [format!("UP1KYO_{TAIL}"), format!("UP2KYO_{TAIL}"), format!("UPHOSOKU_000000_{TAIL}")];
        let refs: Vec<&str> = v4.iter().map(String::as_str).collect();
        assert_eq!(codes(UnitKind::Plan, &refs), vec!["MISSING_REQUIRED_FILE"]);
        let tail3 = "1370000018_1370000026_20221225103000.CSV";
        let v3 = [format!("UP1KYO_{tail3}"), format!("UP2KYO_{tail3}"), format!("UPHOSOKU_000000_{tail3}")];
        let refs: Vec<&str> = v3.iter().map(String::as_str).collect();
        assert_eq!(codes(UnitKind::Plan, &refs), Vec::<&str>::new());
    }
}
