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
}

impl FormKind {
    pub const ALL: [FormKind; 10] = [
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
        }
    }

    /// The kind of a prefix (exact, upper case).
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.prefix() == prefix)
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
}

impl UnitKind {
    pub const ALL: [UnitKind; 6] =
        [Self::Plan, Self::UsageTicket, Self::PlanDelete, Self::UsageTicketDelete, Self::Actuals, Self::ActualsDelete];

    /// The name used in the spec data and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plan => "PLAN",
            Self::UsageTicket => "USAGE_TICKET",
            Self::PlanDelete => "PLAN_DELETE",
            Self::UsageTicketDelete => "USAGE_TICKET_DELETE",
            Self::Actuals => "ACTUALS",
            Self::ActualsDelete => "ACTUALS_DELETE",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
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
