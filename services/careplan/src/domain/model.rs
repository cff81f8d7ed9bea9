//! The care-plan file model, independent of the wire format: the parsed name and the typed
//! rows of one form.

use super::file_name::FileName;
use super::forms::{
    ActualsDeleteRow, AnnexRow, Plan1DeleteRow, Plan1Row, Plan2Row, Plan3Row, PreventionBasicDeleteRow,
    PreventionBasicRow, PreventionHistoryRow, PreventionPlanDeleteRow, PreventionPlanDetailRow, PreventionPlanRow,
    PreventionScheduleRow, SupplementRow, UsageDeleteRow, UsageRow,
};
use super::kind::FormKind;

/// The rows of one file, by layout. 第6表 予定 and 実績 share `Usage`.
#[derive(Debug, Clone, PartialEq)]
pub enum Records {
    Supplement(Vec<SupplementRow>),
    Plan1(Vec<Plan1Row>),
    Plan1Delete(Vec<Plan1DeleteRow>),
    Plan2(Vec<Plan2Row>),
    Plan3(Vec<Plan3Row>),
    Usage(Vec<UsageRow>),
    UsageDelete(Vec<UsageDeleteRow>),
    ActualsDelete(Vec<ActualsDeleteRow>),
    Annex(Vec<AnnexRow>),
    PreventionBasic(Vec<PreventionBasicRow>),
    PreventionBasicDelete(Vec<PreventionBasicDeleteRow>),
    PreventionSchedule(Vec<PreventionScheduleRow>),
    PreventionHistory(Vec<PreventionHistoryRow>),
    PreventionPlan(Vec<PreventionPlanRow>),
    PreventionPlanDetail(Vec<PreventionPlanDetailRow>),
    PreventionPlanDelete(Vec<PreventionPlanDeleteRow>),
}

impl Records {
    /// An empty record list of the layout `kind` uses.
    pub fn empty(kind: FormKind) -> Self {
        match kind {
            FormKind::Supplement => Self::Supplement(Vec::new()),
            FormKind::Plan1 => Self::Plan1(Vec::new()),
            FormKind::Plan1Delete => Self::Plan1Delete(Vec::new()),
            FormKind::Plan2 => Self::Plan2(Vec::new()),
            FormKind::Plan3 => Self::Plan3(Vec::new()),
            FormKind::UsagePlan | FormKind::Actuals => Self::Usage(Vec::new()),
            FormKind::UsagePlanDelete => Self::UsageDelete(Vec::new()),
            FormKind::ActualsDelete => Self::ActualsDelete(Vec::new()),
            FormKind::UsageAnnex => Self::Annex(Vec::new()),
            FormKind::PreventionBasic => Self::PreventionBasic(Vec::new()),
            FormKind::PreventionBasicDelete => Self::PreventionBasicDelete(Vec::new()),
            FormKind::PreventionSchedule => Self::PreventionSchedule(Vec::new()),
            FormKind::PreventionHistory => Self::PreventionHistory(Vec::new()),
            FormKind::PreventionPlan => Self::PreventionPlan(Vec::new()),
            FormKind::PreventionPlanDetail => Self::PreventionPlanDetail(Vec::new()),
            FormKind::PreventionPlanDelete => Self::PreventionPlanDelete(Vec::new()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Supplement(r) => r.len(),
            Self::Plan1(r) => r.len(),
            Self::Plan1Delete(r) => r.len(),
            Self::Plan2(r) => r.len(),
            Self::Plan3(r) => r.len(),
            Self::Usage(r) => r.len(),
            Self::UsageDelete(r) => r.len(),
            Self::ActualsDelete(r) => r.len(),
            Self::Annex(r) => r.len(),
            Self::PreventionBasic(r) => r.len(),
            Self::PreventionBasicDelete(r) => r.len(),
            Self::PreventionSchedule(r) => r.len(),
            Self::PreventionHistory(r) => r.len(),
            Self::PreventionPlan(r) => r.len(),
            Self::PreventionPlanDetail(r) => r.len(),
            Self::PreventionPlanDelete(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One interface file.
#[derive(Debug, Clone, PartialEq)]
pub struct CarePlanFile {
    pub name: FileName,
    pub records: Records,
}
