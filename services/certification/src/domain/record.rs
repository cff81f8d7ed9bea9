//! An application as the service keeps it: the workflow state plus each branch's details.
//! Stored as a JSON body beside the columns the queries filter on (store::applications); steps
//! and delay notices have tables of their own.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::types::{ApplicationType, CareLevel, DelayReason, StepKind};
use super::workflow::Workflow;

/// Who filed the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    /// `ApplicantKind` proto value.
    pub kind: i32,
    /// Family member's name (personal data; family only).
    pub family_member_name: String,
    /// Relationship (family only).
    pub family_relationship: String,
    /// Applying office number (office kinds only).
    pub office_number: String,
}

/// 認定調査 results that drive the primary judgment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyResult {
    /// 要介護認定等基準時間, tenths of a minute.
    pub standard_time_tenths: i32,
    /// `ConditionStability` proto value (0 = not recorded).
    pub stability: i32,
    /// `DementiaIndependenceLevel` proto value (0 = not recorded).
    pub dementia_level: i32,
    /// `DisabilityIndependenceLevel` proto value (0 = not recorded).
    pub disability_level: i32,
    /// 基本調査: (item code, 1-based answer), the 74 items or none
    /// (docs/domain/certification.md#survey).
    #[serde(default)]
    pub basic_items: Vec<(String, i32)>,
    /// 特記事項: (item code or empty, text).
    #[serde(default)]
    pub special_notes: Vec<(String, String)>,
}

/// 認定調査 branch details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyDetail {
    /// Planned visit date.
    pub scheduled_date: Option<NaiveDate>,
    /// Surveyor organisation or id.
    pub surveyor: String,
    /// Date done.
    pub completed_date: Option<NaiveDate>,
    /// Results.
    pub result: Option<SurveyResult>,
}

/// 主治医意見書 branch details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpinionDetail {
    /// 医療機関コード asked to write it.
    pub institution_code: String,
    /// documents' opinion request id.
    pub opinion_request_id: String,
    /// documents' opinion id.
    pub opinion_id: String,
    /// When requested.
    pub request_time: Option<DateTime<Utc>>,
    /// When received.
    pub receive_time: Option<DateTime<Utc>>,
    /// Revision of the opinion last received (documents' count; 0 when not known).
    #[serde(default)]
    pub revision: i32,
    /// When a corrected opinion was last received after the first.
    #[serde(default)]
    pub corrected_time: Option<DateTime<Utc>>,
    /// How many second opinions (再意見書) were asked for.
    #[serde(default)]
    pub second_opinion_count: i32,
}

/// 一次判定.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryRecord {
    /// Level.
    pub level: CareLevel,
    /// Given by the insurer's software (true) or computed here.
    pub external: bool,
    /// Standard time used, tenths.
    pub standard_time_tenths: i32,
    /// Rule applied.
    pub explanation: String,
    /// The 認定ソフト version that gave an external level (99A … 09B); empty when computed here
    /// or not given.
    #[serde(default)]
    pub software_version: String,
}

/// 介護認定審査会 schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardRecord {
    /// Board date.
    pub date: NaiveDate,
    /// 合議体 name.
    pub name: String,
}

/// 二次判定.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Decided level.
    pub level: CareLevel,
    /// 認定年月日.
    pub date: NaiveDate,
    /// Validity, inclusive (none for 非該当).
    pub validity: Option<(NaiveDate, NaiveDate)>,
    /// The day the decision takes effect: the validity's start, or for 非該当 (no validity) the
    /// day from which the person counts as assessed not applicable
    /// (docs/domain/certification.md#no-validity). None in decisions recorded before it was kept.
    #[serde(default)]
    pub effective_from: Option<NaiveDate>,
    /// 認定審査会の意見.
    pub board_opinion: String,
    /// サービスの種類の指定.
    pub designated_service_types: Vec<String>,
    /// 区分支給限度基準額.
    pub limit_units_per_month: i32,
    /// The board changed the primary level.
    pub changed_from_primary: bool,
}

/// A 受給資格証明書: the certification held with the previous municipality
/// (docs/domain/certification.md#transfer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCertificate {
    /// 保険者番号 of the previous municipality.
    pub previous_insurer_number: String,
    /// 転入日.
    pub move_in_date: NaiveDate,
    /// The level certified there.
    pub level: CareLevel,
    /// Its validity's first day.
    pub validity_start: NaiveDate,
    /// Its validity's last day.
    pub validity_end: NaiveDate,
}

/// The certification in force at application (renewals, level changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousCertification {
    /// Its level.
    pub level: CareLevel,
    /// Last day of its validity.
    pub validity_end: NaiveDate,
}

/// How the application was closed without a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closure {
    /// 取下げ date (withdrawals).
    pub date: Option<NaiveDate>,
    /// `CancelReason` proto value (cancellations).
    pub cancel_reason: i32,
    /// Explanation (no personal data).
    pub text: String,
}

/// One application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRecord {
    /// UUID.
    pub id: String,
    /// 保険者番号.
    pub insurer_number: String,
    /// 被保険者番号.
    pub insured_number: String,
    /// 申請区分.
    pub kind: ApplicationType,
    /// 申請年月日.
    pub application_date: NaiveDate,
    /// Who filed it.
    pub applicant: Applicant,
    /// Acting care office.
    pub acting_office_number: Option<String>,
    /// `InsuredCategory` proto value.
    pub insured_category: i32,
    /// Certification in force at application.
    pub previous: Option<PreviousCertification>,
    /// For a renewal, the end of the certification it renews, up to which a decision is on time
    /// (docs/domain/certification.md#renewal-deadline); None for other kinds, for renewals under
    /// `certification.renewal_on_time_within_validity = false`, and in records stored before.
    #[serde(default)]
    pub in_force_until: Option<NaiveDate>,
    /// The 受給資格証明書 of a 転入 application.
    #[serde(default)]
    pub transfer: Option<TransferCertificate>,
    /// Consent reference.
    pub consent_reference: String,
    /// The person's account, when the person filed it.
    pub person_subject: Option<String>,
    /// Workflow state.
    pub workflow: Workflow,
    /// Survey branch.
    pub survey: SurveyDetail,
    /// Opinion branch.
    pub opinion: OpinionDetail,
    /// Primary judgment.
    pub primary: Option<PrimaryRecord>,
    /// Review board.
    pub board: Option<BoardRecord>,
    /// Decision.
    pub decision: Option<DecisionRecord>,
    /// Result notice date.
    pub notified_date: Option<NaiveDate>,
    /// Withdrawal or cancellation.
    pub closure: Option<Closure>,
    /// 1 on submit, +1 per step: always equal to the last step's sequence.
    pub version: i64,
    /// Submitted at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
}

/// 延期通知.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayNoticeRecord {
    /// Date issued.
    pub notice_date: NaiveDate,
    /// Expected decision date.
    pub expected_date: NaiveDate,
    /// Reason.
    pub reason: DelayReason,
    /// Explanation.
    pub reason_text: String,
}

/// Who recorded a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRecord {
    /// `Role` proto value.
    pub role: i32,
    /// Account subject.
    pub subject: String,
    /// Organisation number.
    pub organization_number: String,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// 1-based sequence.
    pub sequence: i64,
    /// Kind.
    pub kind: StepKind,
    /// When it happened.
    pub occur_time: DateTime<Utc>,
    /// When recorded.
    pub record_time: DateTime<Utc>,
    /// Who.
    pub actor: ActorRecord,
    /// Summary (no personal data).
    pub summary: String,
}

/// An application with its steps and notices, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedApplication {
    /// The record.
    pub record: ApplicationRecord,
    /// Steps by sequence.
    pub steps: Vec<StepRecord>,
    /// Notices in issue order.
    pub delay_notices: Vec<DelayNoticeRecord>,
}

impl LoadedApplication {
    /// Expected date of the latest delay notice.
    pub fn latest_expected_date(&self) -> Option<NaiveDate> {
        self.delay_notices.last().map(|n| n.expected_date)
    }
}

/// A record to test rules with.
#[cfg(test)]
pub(crate) mod tests_support {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::{Applicant, ApplicationRecord};
    use crate::domain::types::ApplicationType;
    use crate::domain::workflow::Workflow;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// An application of `kind` dated 2026-04-01, just received.
    pub fn application(kind: ApplicationType) -> ApplicationRecord {
        let at = Utc.with_ymd_and_hms(2026, 4, 1, 3, 0, 0).unwrap();
        ApplicationRecord {
            id: "a".to_owned(),
            insurer_number: "435073".to_owned(),
            insured_number: "0000000001".to_owned(),
            kind,
            application_date: d(2026, 4, 1),
            applicant: Applicant {
                kind: 1,
                family_member_name: String::new(),
                family_relationship: String::new(),
                office_number: String::new(),
            },
            acting_office_number: None,
            insured_category: 1,
            previous: None,
            in_force_until: None,
            transfer: None,
            consent_reference: String::new(),
            person_subject: None,
            workflow: Workflow::RECEIVED,
            survey: Default::default(),
            opinion: Default::default(),
            primary: None,
            board: None,
            decision: None,
            notified_date: None,
            closure: None,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }
}
