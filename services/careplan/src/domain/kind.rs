//! The kinds of interface file and of send unit (docs/domain/careplan-csv.md#file-kinds and
//! #send-units).

use std::fmt;

/// One interface file kind, named by its file-name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FormKind {
    /// UPHOSOKU 利用者補足情報.
    Supplement,
    /// UP1KYO 居宅サービス計画1表.
    Plan1,
    /// DLT1KYO 1表_削除.
    Plan1Delete,
    /// UP2KYO 2表.
    Plan2,
    /// UP3KYO 3表 (v4).
    Plan3,
    /// UPPLAN 第6表 予定.
    UsagePlan,
    /// DLTPLAN 第6表 予定削除.
    UsagePlanDelete,
    /// UPJSK 第6表 実績情報.
    Actuals,
    /// DLTJSK 実績情報削除.
    ActualsDelete,
    /// UPSIKYU 第7表.
    UsageAnnex,
    /// UPKIHON 利用者基本情報 (介護予防, v4 only).
    PreventionBasic,
    /// DLTKIHON 利用者基本情報_削除.
    PreventionBasicDelete,
    /// UPKIHON_SUB1 利用者基本情報 別表1 (タイムスケジュール).
    PreventionSchedule,
    /// UPKIHON_SUB2 利用者基本情報 別表2 (現病歴・既往歴).
    PreventionHistory,
    /// UPYOBO 介護予防サービス・支援計画書.
    PreventionPlan,
    /// UPYOBO_SUB 介護予防サービス・支援計画書 別表 (支援計画).
    PreventionPlanDetail,
    /// DLTYOBO 介護予防サービス・支援計画書_削除.
    PreventionPlanDelete,
}

impl FormKind {
    pub const ALL: [FormKind; 17] = [
        Self::Supplement,
        Self::Plan1,
        Self::Plan1Delete,
        Self::Plan2,
        Self::Plan3,
        Self::UsagePlan,
        Self::UsagePlanDelete,
        Self::Actuals,
        Self::ActualsDelete,
        Self::UsageAnnex,
        Self::PreventionBasic,
        Self::PreventionBasicDelete,
        Self::PreventionSchedule,
        Self::PreventionHistory,
        Self::PreventionPlan,
        Self::PreventionPlanDetail,
        Self::PreventionPlanDelete,
    ];

    /// The file-name prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Supplement => "UPHOSOKU",
            Self::Plan1 => "UP1KYO",
            Self::Plan1Delete => "DLT1KYO",
            Self::Plan2 => "UP2KYO",
            Self::Plan3 => "UP3KYO",
            Self::UsagePlan => "UPPLAN",
            Self::UsagePlanDelete => "DLTPLAN",
            Self::Actuals => "UPJSK",
            Self::ActualsDelete => "DLTJSK",
            Self::UsageAnnex => "UPSIKYU",
            Self::PreventionBasic => "UPKIHON",
            Self::PreventionBasicDelete => "DLTKIHON",
            Self::PreventionSchedule => "UPKIHON_SUB1",
            Self::PreventionHistory => "UPKIHON_SUB2",
            Self::PreventionPlan => "UPYOBO",
            Self::PreventionPlanDetail => "UPYOBO_SUB",
            Self::PreventionPlanDelete => "DLTYOBO",
        }
    }

    /// The kind of a prefix (exact, upper case).
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.prefix() == prefix)
    }

    /// The kind of a file name split at `_` (upper case), matching whole tokens and the
    /// longest prefix first: `UPKIHON_SUB1_…` is a 別表1, not a 利用者基本情報
    /// (docs/domain/careplan-csv.md#file-names).
    pub fn from_name_parts(parts: &[&str]) -> Option<Self> {
        let two = match parts {
            [first, second, ..] => Self::from_prefix(&format!("{first}_{second}")),
            _ => None,
        };
        two.or_else(|| parts.first().and_then(|p| Self::from_prefix(p)))
    }

    /// The number of `_`-separated tokens of the prefix.
    pub fn prefix_tokens(self) -> usize {
        self.prefix().split('_').count()
    }
}

impl fmt::Display for FormKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// A send unit (送信単位).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnitKind {
    Plan,
    UsageTicket,
    PlanDelete,
    UsageTicketDelete,
    Actuals,
    ActualsDelete,
    /// 利用者基本情報 (with its 別表1/2), alone.
    PreventionBasic,
    /// 介護予防サービス・支援計画書 (with its 別表) and 利用者基本情報.
    PreventionPlanWithBasic,
    /// 介護予防サービス・支援計画書 (with its 別表), alone.
    PreventionPlan,
    /// 利用者基本情報_削除.
    PreventionBasicDelete,
    /// 介護予防サービス・支援計画書_削除.
    PreventionPlanDelete,
}

impl UnitKind {
    pub const ALL: [UnitKind; 11] = [
        Self::Plan,
        Self::UsageTicket,
        Self::PlanDelete,
        Self::UsageTicketDelete,
        Self::Actuals,
        Self::ActualsDelete,
        Self::PreventionBasic,
        Self::PreventionPlanWithBasic,
        Self::PreventionPlan,
        Self::PreventionBasicDelete,
        Self::PreventionPlanDelete,
    ];

    /// The name used in the spec data and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plan => "PLAN",
            Self::UsageTicket => "USAGE_TICKET",
            Self::PlanDelete => "PLAN_DELETE",
            Self::UsageTicketDelete => "USAGE_TICKET_DELETE",
            Self::Actuals => "ACTUALS",
            Self::ActualsDelete => "ACTUALS_DELETE",
            Self::PreventionBasic => "PREVENTION_BASIC",
            Self::PreventionPlanWithBasic => "PREVENTION_PLAN_WITH_BASIC",
            Self::PreventionPlan => "PREVENTION_PLAN",
            Self::PreventionBasicDelete => "PREVENTION_BASIC_DELETE",
            Self::PreventionPlanDelete => "PREVENTION_PLAN_DELETE",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// True when the receiver may be on the care office's side too: a 地域包括支援センター and a
    /// 居宅介護支援事業所 under 委託 exchange the 利用者基本情報 and the 支援計画書 both ways, and
    /// providers read them (docs/domain/careplan-csv.md#prevention-units).
    pub fn care_office_may_receive(self) -> bool {
        matches!(
            self,
            Self::PreventionBasic
                | Self::PreventionPlanWithBasic
                | Self::PreventionPlan
                | Self::PreventionBasicDelete
                | Self::PreventionPlanDelete
        )
    }

    /// True when the unit's files carry a service month (対象年月): the 第6表 units and 実績;
    /// the plans, the 介護予防 files and their deletions carry none.
    pub fn carries_month(self) -> bool {
        matches!(self, Self::UsageTicket | Self::UsageTicketDelete | Self::Actuals | Self::ActualsDelete)
    }
}

/// Which side sends a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderSide {
    /// 居宅介護支援事業所.
    CareOffice,
    /// サービス事業所.
    Provider,
}
