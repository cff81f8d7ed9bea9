//! The workflow's vocabulary: application types, levels, states and step kinds, as plain enums
//! with their national interface codes. The api module maps them to and from protobuf; a care
//! level read from the wire is [`CareLevel::from_wire`], since the API and the eligibility
//! client (`crate::people`) both read one and neither may import the other.

use serde::{Deserialize, Serialize};

/// 申請区分 (interface codes 1–4 and 申請時 5, docs/domain/certification.md#codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationType {
    /// 新規申請.
    New,
    /// 更新申請: needs a certification in force.
    Renewal,
    /// 区分変更申請: needs a certification in force.
    LevelChange,
    /// 職権: the insurer changes the level ex officio; needs a certification in force
    /// (docs/domain/certification.md#ex-officio).
    ExOfficio,
    /// 転入申請 with a 受給資格証明書: the previous municipality's certification carried over
    /// (docs/domain/certification.md#transfer).
    Transfer,
}

impl ApplicationType {
    /// True when the application needs a current certification (renewal, level change, 職権).
    pub fn needs_current_certification(self) -> bool {
        matches!(self, ApplicationType::Renewal | ApplicationType::LevelChange | ApplicationType::ExOfficio)
    }
}

/// 要介護状態区分 as decided by certification (docs/domain/eligibility.md#care-levels). 経過的要介護 and 事業対象者 are
/// never the outcome of a certification today, so they are not in this set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CareLevel {
    /// 非該当 ("01").
    NotApplicable,
    /// 要支援1 ("12").
    Support1,
    /// 要支援2 ("13").
    Support2,
    /// 要介護1 ("21").
    Care1,
    /// 要介護2 ("22").
    Care2,
    /// 要介護3 ("23").
    Care3,
    /// 要介護4 ("24").
    Care4,
    /// 要介護5 ("25").
    Care5,
}

/// The two benefit families a level belongs to: "same level" for validity counts a move within
/// one family as unchanged (docs/domain/certification.md#validity, the Hamada page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelFamily {
    /// 非該当.
    None,
    /// 要支援1–2 (予防給付).
    Support,
    /// 要介護1–5 (介護給付).
    Care,
}

impl CareLevel {
    /// The 2-digit interface code.
    pub fn code(self) -> &'static str {
        match self {
            CareLevel::NotApplicable => "01",
            CareLevel::Support1 => "12",
            CareLevel::Support2 => "13",
            CareLevel::Care1 => "21",
            CareLevel::Care2 => "22",
            CareLevel::Care3 => "23",
            CareLevel::Care4 => "24",
            CareLevel::Care5 => "25",
        }
    }

    /// The level with interface code `code`.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The level a `kaigo.common.v1.CareLevel` value names. `None` for UNSPECIFIED, a value
    /// outside the enum, and the two levels no certification decides (経過的要介護, 事業対象者).
    pub fn from_wire(v: i32) -> Option<Self> {
        use kaigo_proto::kaigo::common::v1::CareLevel as W;
        Some(match W::try_from(v).ok()? {
            W::NotApplicable => CareLevel::NotApplicable,
            W::Support1 => CareLevel::Support1,
            W::Support2 => CareLevel::Support2,
            W::Care1 => CareLevel::Care1,
            W::Care2 => CareLevel::Care2,
            W::Care3 => CareLevel::Care3,
            W::Care4 => CareLevel::Care4,
            W::Care5 => CareLevel::Care5,
            W::Unspecified | W::Transitional | W::ProgrammeEligible => return None,
        })
    }

    /// Every level, lowest first.
    pub const ALL: [CareLevel; 8] = [
        CareLevel::NotApplicable,
        CareLevel::Support1,
        CareLevel::Support2,
        CareLevel::Care1,
        CareLevel::Care2,
        CareLevel::Care3,
        CareLevel::Care4,
        CareLevel::Care5,
    ];

    /// 要支援, 要介護 or neither.
    pub fn family(self) -> LevelFamily {
        match self {
            CareLevel::NotApplicable => LevelFamily::None,
            CareLevel::Support1 | CareLevel::Support2 => LevelFamily::Support,
            _ => LevelFamily::Care,
        }
    }

    /// 区分支給限度基準額, units per month (docs/domain/eligibility.md#benefit-caps; unchanged since
    /// 2019-10).
    pub fn limit_units_per_month(self) -> i32 {
        match self {
            CareLevel::NotApplicable => 0,
            CareLevel::Support1 => 5_032,
            CareLevel::Support2 => 10_531,
            CareLevel::Care1 => 16_765,
            CareLevel::Care2 => 19_705,
            CareLevel::Care3 => 27_048,
            CareLevel::Care4 => 30_938,
            CareLevel::Care5 => 36_217,
        }
    }

    /// The Japanese label, for step summaries (a level is not personal data on its own).
    pub fn label(self) -> &'static str {
        match self {
            CareLevel::NotApplicable => "非該当",
            CareLevel::Support1 => "要支援1",
            CareLevel::Support2 => "要支援2",
            CareLevel::Care1 => "要介護1",
            CareLevel::Care2 => "要介護2",
            CareLevel::Care3 => "要介護3",
            CareLevel::Care4 => "要介護4",
            CareLevel::Care5 => "要介護5",
        }
    }
}

/// Overall status of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// 受付: the survey and opinion branches are under way.
    Received,
    /// 一次判定済.
    PrimaryJudged,
    /// 審査会予定.
    BoardScheduled,
    /// 認定済.
    Decided,
    /// 通知済 (terminal).
    Notified,
    /// 取下げ (terminal).
    Withdrawn,
    /// 取消・却下 (terminal).
    Cancelled,
}

impl Status {
    /// Open: not yet decided and not closed; the 30-day clock runs.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Received | Status::PrimaryJudged | Status::BoardScheduled)
    }

    /// No step may follow.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Notified | Status::Withdrawn | Status::Cancelled)
    }

    /// Stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::PrimaryJudged => "primary_judged",
            Status::BoardScheduled => "board_scheduled",
            Status::Decided => "decided",
            Status::Notified => "notified",
            Status::Withdrawn => "withdrawn",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status stored as `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::Received,
            Status::PrimaryJudged,
            Status::BoardScheduled,
            Status::Decided,
            Status::Notified,
            Status::Withdrawn,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// The statuses still open.
    pub const OPEN: [Status; 3] = [Status::Received, Status::PrimaryJudged, Status::BoardScheduled];
}

/// 認定調査 branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SurveyState {
    /// Not yet scheduled.
    NotScheduled,
    /// Visit scheduled.
    Scheduled,
    /// Done, results recorded.
    Completed,
}

/// 主治医意見書 branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpinionState {
    /// Not yet requested.
    NotRequested,
    /// 作成依頼 sent.
    Requested,
    /// Received by the insurer.
    Received,
}

/// Kinds of steps (the proto's StepKind, same order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StepKind {
    /// 申請受付.
    Received,
    /// 認定調査 scheduled.
    SurveyScheduled,
    /// 認定調査 done.
    SurveyCompleted,
    /// 意見書作成依頼.
    OpinionRequested,
    /// 意見書受領.
    OpinionReceived,
    /// 一次判定.
    PrimaryJudgment,
    /// 審査会予定.
    ReviewBoardScheduled,
    /// 二次判定・認定.
    Decided,
    /// 結果通知.
    Notified,
    /// 延期通知.
    DelayNoticeIssued,
    /// 取下げ.
    Withdrawn,
    /// 取消.
    Cancelled,
    /// 再調査: the survey asked for again.
    ResurveyRequested,
    /// 再意見書: a second opinion asked for.
    SecondOpinionRequested,
    /// 継続審査: the board deferred.
    ReviewDeferred,
    /// A corrected 意見書 received after the first (no state change).
    OpinionCorrected,
}

impl StepKind {
    /// Every kind, in proto order.
    pub const ALL: [StepKind; 16] = [
        StepKind::Received,
        StepKind::SurveyScheduled,
        StepKind::SurveyCompleted,
        StepKind::OpinionRequested,
        StepKind::OpinionReceived,
        StepKind::PrimaryJudgment,
        StepKind::ReviewBoardScheduled,
        StepKind::Decided,
        StepKind::Notified,
        StepKind::DelayNoticeIssued,
        StepKind::Withdrawn,
        StepKind::Cancelled,
        StepKind::ResurveyRequested,
        StepKind::SecondOpinionRequested,
        StepKind::ReviewDeferred,
        StepKind::OpinionCorrected,
    ];

    /// Stable code stored in the database (the proto enum number).
    pub fn code(self) -> i32 {
        match self {
            StepKind::Received => 1,
            StepKind::SurveyScheduled => 2,
            StepKind::SurveyCompleted => 3,
            StepKind::OpinionRequested => 4,
            StepKind::OpinionReceived => 5,
            StepKind::PrimaryJudgment => 6,
            StepKind::ReviewBoardScheduled => 7,
            StepKind::Decided => 8,
            StepKind::Notified => 9,
            StepKind::DelayNoticeIssued => 10,
            StepKind::Withdrawn => 11,
            StepKind::Cancelled => 12,
            StepKind::ResurveyRequested => 13,
            StepKind::SecondOpinionRequested => 14,
            StepKind::ReviewDeferred => 15,
            StepKind::OpinionCorrected => 16,
        }
    }

    /// The kind stored as `code`.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Upper-snake name used in error messages and metadata.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Received => "RECEIVED",
            StepKind::SurveyScheduled => "SURVEY_SCHEDULED",
            StepKind::SurveyCompleted => "SURVEY_COMPLETED",
            StepKind::OpinionRequested => "OPINION_REQUESTED",
            StepKind::OpinionReceived => "OPINION_RECEIVED",
            StepKind::PrimaryJudgment => "PRIMARY_JUDGMENT",
            StepKind::ReviewBoardScheduled => "REVIEW_BOARD_SCHEDULED",
            StepKind::Decided => "DECIDED",
            StepKind::Notified => "NOTIFIED",
            StepKind::DelayNoticeIssued => "DELAY_NOTICE_ISSUED",
            StepKind::Withdrawn => "WITHDRAWN",
            StepKind::Cancelled => "CANCELLED",
            StepKind::ResurveyRequested => "RESURVEY_REQUESTED",
            StepKind::SecondOpinionRequested => "SECOND_OPINION_REQUESTED",
            StepKind::ReviewDeferred => "REVIEW_DEFERRED",
            StepKind::OpinionCorrected => "OPINION_CORRECTED",
        }
    }

    /// Steps after which nothing else may happen.
    pub fn is_terminal(self) -> bool {
        matches!(self, StepKind::Notified | StepKind::Withdrawn | StepKind::Cancelled)
    }
}

/// 状態の安定性.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stability {
    /// 安定.
    Stable,
    /// 不安定.
    Unstable,
}

/// 認知症高齢者の日常生活自立度 (codes 1–8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DementiaLevel {
    /// 自立.
    Independent,
    /// Ⅰ.
    I,
    /// Ⅱa.
    IIa,
    /// Ⅱb.
    IIb,
    /// Ⅲa.
    IIIa,
    /// Ⅲb.
    IIIb,
    /// Ⅳ.
    IV,
    /// M.
    M,
}

impl DementiaLevel {
    /// Ⅱ or above: daily life needs some watching over because of dementia.
    pub fn is_ii_or_above(self) -> bool {
        self >= DementiaLevel::IIa
    }
}

/// 延期理由 (docs/domain/certification.md#deadline, Kasugai's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DelayReason {
    /// 認定調査票未整備.
    SurveyNotReady,
    /// 主治医意見書未整備.
    OpinionNotReady,
    /// Both.
    SurveyAndOpinionNotReady,
    /// 審査会開催待ち.
    WaitingForBoard,
    /// Other, explained in text.
    Other,
}

impl DelayReason {
    /// Stable code stored in the database (the proto enum number).
    pub fn code(self) -> i32 {
        match self {
            DelayReason::SurveyNotReady => 1,
            DelayReason::OpinionNotReady => 2,
            DelayReason::SurveyAndOpinionNotReady => 3,
            DelayReason::WaitingForBoard => 4,
            DelayReason::Other => 5,
        }
    }

    /// The reason stored as `code`.
    pub fn from_code(code: i32) -> Option<Self> {
        [
            DelayReason::SurveyNotReady,
            DelayReason::OpinionNotReady,
            DelayReason::SurveyAndOpinionNotReady,
            DelayReason::WaitingForBoard,
            DelayReason::Other,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_codes_round_trip_and_match_the_interface_table() {
        for level in CareLevel::ALL {
            assert_eq!(CareLevel::from_code(level.code()), Some(level));
        }
        assert_eq!(CareLevel::Support2.code(), "13");
        assert_eq!(CareLevel::Care1.code(), "21");
        assert_eq!(CareLevel::from_code("06"), None, "事業対象者 is not a certification outcome");
    }

    #[test]
    fn wire_levels_are_read_and_the_undecided_ones_refused() {
        use kaigo_proto::kaigo::common::v1::CareLevel as W;
        assert_eq!(CareLevel::from_wire(W::NotApplicable as i32), Some(CareLevel::NotApplicable));
        assert_eq!(CareLevel::from_wire(W::Support2 as i32), Some(CareLevel::Support2));
        assert_eq!(CareLevel::from_wire(W::Care5 as i32), Some(CareLevel::Care5));
        for undecided in [W::Unspecified as i32, W::Transitional as i32, W::ProgrammeEligible as i32, 999] {
            assert_eq!(CareLevel::from_wire(undecided), None, "{undecided}");
        }
    }

    #[test]
    fn families_group_support_and_care() {
        assert_eq!(CareLevel::Support1.family(), CareLevel::Support2.family());
        assert_eq!(CareLevel::Care1.family(), CareLevel::Care5.family());
        assert_ne!(CareLevel::Support2.family(), CareLevel::Care1.family());
        assert_eq!(CareLevel::NotApplicable.family(), LevelFamily::None);
    }

    #[test]
    fn limits_follow_the_2019_table() {
        let units: Vec<i32> = CareLevel::ALL.iter().map(|l| l.limit_units_per_month()).collect();
        assert_eq!(units, vec![0, 5_032, 10_531, 16_765, 19_705, 27_048, 30_938, 36_217]);
    }

    #[test]
    fn step_and_status_codes_round_trip() {
        for kind in StepKind::ALL {
            assert_eq!(StepKind::from_code(kind.code()), Some(kind));
        }
        for status in [Status::Received, Status::Decided, Status::Cancelled] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert!(Status::OPEN.iter().all(|s| s.is_open() && !s.is_terminal()));
        assert!(!Status::Decided.is_open() && !Status::Decided.is_terminal());
    }

    #[test]
    fn dementia_two_or_above_starts_at_iia() {
        assert!(!DementiaLevel::I.is_ii_or_above());
        assert!(DementiaLevel::IIa.is_ii_or_above());
        assert!(DementiaLevel::M.is_ii_or_above());
    }
}
