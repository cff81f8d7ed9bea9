//! A person's eligibility timeline and what is in force on a date.
//!
//! Every fact is a period (start and end dates, the end inclusive, an open end allowed);
//! nothing is overwritten: a correction supersedes a record and history keeps both. The
//! timeline used for checks holds only the active records.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// 要介護状態区分 (docs/domain/eligibility.md#care-levels), with its 2-digit interface code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CareLevel {
    /// 01 非該当: assessed, not eligible.
    NotApplicable,
    /// 11 経過的要介護 (the pre-2006 要支援).
    Transitional,
    /// 12 要支援1.
    Support1,
    /// 13 要支援2.
    Support2,
    /// 21 要介護1.
    Care1,
    /// 22 要介護2.
    Care2,
    /// 23 要介護3.
    Care3,
    /// 24 要介護4.
    Care4,
    /// 25 要介護5.
    Care5,
    /// 06 事業対象者 (基本チェックリスト; the code is UNCONFIRMED).
    ProgrammeEligible,
}

impl CareLevel {
    /// The 2-digit code used by municipal and 国保連 systems.
    pub fn code(self) -> &'static str {
        match self {
            CareLevel::NotApplicable => "01",
            CareLevel::Transitional => "11",
            CareLevel::Support1 => "12",
            CareLevel::Support2 => "13",
            CareLevel::Care1 => "21",
            CareLevel::Care2 => "22",
            CareLevel::Care3 => "23",
            CareLevel::Care4 => "24",
            CareLevel::Care5 => "25",
            CareLevel::ProgrammeEligible => "06",
        }
    }

    /// 区分支給限度基準額 in units a month (docs/domain/eligibility.md#benefit-caps; unchanged since
    /// 2019-10). `None` where no monthly cap applies.
    pub fn default_limit_units(self) -> Option<u32> {
        match self {
            CareLevel::Support1 => Some(5_032),
            CareLevel::Support2 => Some(10_531),
            CareLevel::Care1 => Some(16_765),
            CareLevel::Care2 => Some(19_705),
            CareLevel::Care3 => Some(27_048),
            CareLevel::Care4 => Some(30_938),
            CareLevel::Care5 => Some(36_217),
            // 経過的要介護 had the old 要支援 cap; not issued since 2006, so no default.
            CareLevel::Transitional | CareLevel::NotApplicable | CareLevel::ProgrammeEligible => None,
        }
    }

    /// True for 要支援1–2 (and the old 経過的要介護).
    pub fn is_support(self) -> bool {
        matches!(self, CareLevel::Support1 | CareLevel::Support2 | CareLevel::Transitional)
    }

    /// True for 要介護1–5.
    pub fn is_care(self) -> bool {
        matches!(self, CareLevel::Care1 | CareLevel::Care2 | CareLevel::Care3 | CareLevel::Care4 | CareLevel::Care5)
    }
}

/// The kinds of period kept per person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// 要介護認定.
    Certification,
    /// 負担割合.
    Copayment,
    /// 負担限度額.
    CostLimit,
    /// 給付制限.
    BenefitRestriction,
    /// 住所地特例.
    ResidenceException,
    /// 居宅介護支援事業者 (the registered care-management office).
    CareManagement,
    /// 資格: a qualification span.
    Qualification,
}

/// 負担限度額 stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostStage {
    /// 第1段階.
    First,
    /// 第2段階.
    Second,
    /// 第3段階①.
    Third1,
    /// 第3段階②.
    Third2,
}

/// 給付制限 kinds (docs/domain/eligibility.md#benefit-restriction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestrictionKind {
    /// 支払方法の変更 (償還払い).
    PaymentMethodChange,
    /// 保険給付の一時差止.
    PaymentSuspension,
    /// 給付額減額.
    BenefitReduction,
}

/// Daily caps of a 負担限度額 certificate, in yen (docs/domain/eligibility.md#daily-caps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DailyCaps {
    /// 食費 in a facility.
    pub meal_facility: u32,
    /// 食費 in a short stay.
    pub meal_short_stay: u32,
    /// ユニット型個室.
    pub unit_private: u32,
    /// ユニット型個室的多床室.
    pub unit_semi_private: u32,
    /// 従来型個室 (特養等).
    pub conventional_private_welfare: u32,
    /// 従来型個室 (老健・医療院等).
    pub conventional_private_health: u32,
    /// 多床室.
    pub multi_bed: u32,
}

/// One 種類支給限度基準額: a cap for one service type (docs/domain/eligibility.md#insured-certificate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTypeLimit {
    /// 2-character サービス種類コード.
    pub service_type: String,
    /// Units a month.
    pub units: u32,
}

/// What a record says, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Detail {
    /// 要介護認定.
    Certification {
        /// The level.
        level: CareLevel,
        /// 認定年月日.
        certified: NaiveDate,
        /// 区分支給限度基準額, units a month (0 where none applies).
        limit_units: u32,
        /// 認定審査会の意見.
        board_opinion: String,
        /// サービスの種類の指定: only these service types are payable (empty: all).
        designated_service_types: Vec<String>,
        /// うち種類支給限度基準額: per-service-type caps the municipality set (empty: none).
        #[serde(default)]
        service_type_limits: Vec<ServiceTypeLimit>,
        /// The certification application this came from (empty when unknown).
        #[serde(default)]
        application_id: String,
    },
    /// 負担割合: 1, 2 or 3 (tenths).
    Copayment {
        /// Tenths the user pays.
        tenths: u8,
    },
    /// 負担限度額.
    CostLimit {
        /// The stage.
        stage: CostStage,
        /// Its daily caps.
        caps: DailyCaps,
    },
    /// 給付制限.
    BenefitRestriction {
        /// Which measure.
        kind: RestrictionKind,
        /// The raised co-payment under 給付額減額, in percent (30 or 40), else 0.
        reduced_copayment_percent: u8,
        /// The printed wording of the restriction (empty when none).
        #[serde(default)]
        note: String,
    },
    /// 住所地特例: the facility's municipality differs from the insurer.
    ResidenceException {
        /// 全国地方公共団体コード of the facility's municipality.
        facility_municipality: String,
        /// The facility's name.
        facility_name: String,
    },
    /// The registered 居宅介護支援事業者 / 介護予防支援事業者, or a self-made plan.
    CareManagement {
        /// 1 居宅介護支援, 2 介護予防支援, 3 自己作成.
        kind: u8,
        /// 事業所番号 (empty for a self-made plan).
        office_number: String,
        /// The office's name.
        office_name: String,
        /// 届出年月日.
        notified: Option<NaiveDate>,
    },
    /// 資格: one qualification span (docs/domain/eligibility.md#qualification). The record's
    /// period runs from the 資格取得年月日 to the day before the 資格喪失年月日.
    Qualification {
        /// 資格取得事由: the proto's QualificationAcquisitionReason number (0 when not given).
        acquisition: u8,
        /// 資格喪失事由: the proto's QualificationLossReason number (0 when not given or open).
        loss: u8,
    },
}

impl Detail {
    /// The record kind of this detail.
    pub fn kind(&self) -> Kind {
        match self {
            Detail::Certification { .. } => Kind::Certification,
            Detail::Copayment { .. } => Kind::Copayment,
            Detail::CostLimit { .. } => Kind::CostLimit,
            Detail::BenefitRestriction { .. } => Kind::BenefitRestriction,
            Detail::ResidenceException { .. } => Kind::ResidenceException,
            Detail::CareManagement { .. } => Kind::CareManagement,
            Detail::Qualification { .. } => Kind::Qualification,
        }
    }
}

/// A period as written: first day, last day (inclusive, open when `None`), what it says.
pub type Period = (NaiveDate, Option<NaiveDate>, Detail);

/// One active period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's id.
    pub id: i64,
    /// First day in force.
    pub start: NaiveDate,
    /// Last day in force (inclusive); `None` while open.
    pub end: Option<NaiveDate>,
    /// What it says.
    pub detail: Detail,
}

impl Record {
    /// True when the record is in force on `day` (both ends inclusive).
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|end| day <= end)
    }

    /// True when this period and `[start, end]` share at least one day.
    pub fn overlaps(&self, start: NaiveDate, end: Option<NaiveDate>) -> bool {
        let ends_before = end.is_some_and(|e| e < self.start);
        let starts_after = self.end.is_some_and(|e| e < start);
        !(ends_before || starts_after)
    }
}

/// The facts about a person that decide insurance itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonCore {
    /// 1 第1号被保険者, 2 第2号被保険者.
    pub category: u8,
    /// 資格取得年月日.
    pub acquired: Option<NaiveDate>,
    /// 資格喪失年月日: the first day without insurance.
    pub lost: Option<NaiveDate>,
    /// Increments with every change to the person or their records.
    pub version: i64,
    /// When the person or a record last changed, Unix seconds.
    pub changed_at: i64,
}

/// A person's timeline: the core facts and every active record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// Insurance itself.
    pub person: PersonCore,
    /// Active records, any order.
    pub records: Vec<Record>,
}

/// The verdict of a check (docs/domain/eligibility.md#verdict; the proto's EligibilityVerdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Insured and certified 要支援/要介護 on the date.
    Eligible,
    /// No such insured person at this insurer.
    NotInsured,
    /// On or after the 資格喪失年月日.
    QualificationLost,
    /// Insured, never certified up to the date.
    NotCertified,
    /// Insured; the last certification ended before the date.
    CertificationExpired,
    /// Before the 資格取得年月日.
    NotYetQualified,
    /// Certified 非該当.
    AssessedNotApplicable,
    /// 事業対象者 only (総合事業, not insurance benefits).
    ProgrammeOnly,
}

/// The verdict and the records in force on the date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment<'a> {
    /// The verdict.
    pub verdict: Verdict,
    /// The certification in force; for [`Verdict::CertificationExpired`] the last one that
    /// ended before the date (the lapsed level and period).
    pub certification: Option<&'a Record>,
    /// The co-payment ratio in force (the 負担割合証 as issued).
    pub copayment: Option<&'a Record>,
    /// The cost-limit certificate in force; `None` while a 給付額減額 is in force, since no
    /// 補足給付 is paid then (docs/domain/eligibility.md#benefit-restriction).
    pub cost_limit: Option<&'a Record>,
    /// Every benefit restriction in force.
    pub restrictions: Vec<&'a Record>,
    /// 住所地特例 in force.
    pub residence_exception: Option<&'a Record>,
    /// The registered care-management office in force.
    pub care_management: Option<&'a Record>,
    /// The qualification span in force; for [`Verdict::QualificationLost`] the last one that
    /// ended before the date. `None` for a person recorded without spans (the person's single
    /// pair decides then) and for [`Verdict::NotYetQualified`].
    pub qualification: Option<&'a Record>,
}

impl Timeline {
    fn in_force(&self, kind: Kind, day: NaiveDate) -> Option<&Record> {
        self.records.iter().find(|r| r.detail.kind() == kind && r.covers(day))
    }

    /// What is in force on `day`.
    pub fn assess(&self, day: NaiveDate) -> Assessment<'_> {
        let mut assessment = Assessment {
            verdict: Verdict::NotCertified,
            certification: None,
            copayment: None,
            cost_limit: None,
            restrictions: Vec::new(),
            residence_exception: None,
            care_management: None,
            qualification: None,
        };
        // Insured only inside a qualification span (docs/domain/eligibility.md#qualification).
        match standing(self, day) {
            Standing::NotYet => {
                assessment.verdict = Verdict::NotYetQualified;
                return assessment;
            }
            Standing::Lost(span) => {
                assessment.verdict = Verdict::QualificationLost;
                assessment.qualification = span;
                return assessment;
            }
            Standing::Insured(span) => assessment.qualification = span,
        }
        // 住所地特例 holds whether or not the person is certified
        // (docs/domain/eligibility.md#address-exception).
        assessment.residence_exception = self.in_force(Kind::ResidenceException, day);
        assessment.restrictions =
            self.records.iter().filter(|r| r.detail.kind() == Kind::BenefitRestriction && r.covers(day)).collect();
        assessment.certification = self.in_force(Kind::Certification, day);
        assessment.verdict = match assessment.certification.map(|r| &r.detail) {
            Some(Detail::Certification { level: CareLevel::NotApplicable, .. }) => Verdict::AssessedNotApplicable,
            Some(Detail::Certification { level: CareLevel::ProgrammeEligible, .. }) => Verdict::ProgrammeOnly,
            Some(_) => Verdict::Eligible,
            None => {
                // The lapsed certification is the answer's evidence: the latest 要支援/要介護
                // period that ended before the date.
                let lapsed = self
                    .records
                    .iter()
                    .filter(|r| {
                        matches!(&r.detail, Detail::Certification { level, .. } if level.is_support() || level.is_care())
                            && r.end.is_some_and(|end| end < day)
                    })
                    .max_by_key(|r| (r.end, r.start));
                assessment.certification = lapsed;
                if lapsed.is_some() { Verdict::CertificationExpired } else { Verdict::NotCertified }
            }
        };
        assessment.copayment = self.in_force(Kind::Copayment, day);
        // No 補足給付 under 給付額減額 (docs/domain/eligibility.md#benefit-restriction).
        if assessment.reduction().is_none() {
            assessment.cost_limit = self.in_force(Kind::CostLimit, day);
        }
        assessment.care_management = self.in_force(Kind::CareManagement, day);
        assessment
    }
}

/// The co-payment a user pays on a date: the ratio of the 負担割合証 in force, raised while a
/// 給付額減額 is in force (docs/domain/eligibility.md#benefit-reduction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveCopayment<'a> {
    /// Tenths the user pays: 1, 2, 3, or 4 under 給付額減額.
    pub tenths: u8,
    /// The 負担割合証's own ratio, when one is in force.
    pub certified_tenths: Option<u8>,
    /// The record whose period the answer shows: the 負担割合証, or the 給付額減額 when no
    /// 負担割合証 is in force.
    pub record: &'a Record,
    /// True when a 給付額減額 raised the ratio above the certificate's.
    pub raised: bool,
}

impl<'a> Assessment<'a> {
    /// The 給付額減額 in force, if any.
    pub fn reduction(&self) -> Option<&'a Record> {
        self.restrictions
            .iter()
            .copied()
            .find(|r| matches!(r.detail, Detail::BenefitRestriction { kind: RestrictionKind::BenefitReduction, .. }))
    }

    /// The co-payment in force, after any 給付額減額: the recorded raised ratio (30 or 40 %),
    /// never lower than the certificate's own (docs/domain/eligibility.md#benefit-reduction).
    /// `None` when neither a 負担割合証 nor a 給付額減額 is in force.
    pub fn effective_copayment(&self) -> Option<EffectiveCopayment<'a>> {
        let certified = self.copayment.and_then(|r| match r.detail {
            Detail::Copayment { tenths } => Some((r, tenths)),
            _ => None,
        });
        let reduced = self.reduction().and_then(|r| match r.detail {
            Detail::BenefitRestriction { reduced_copayment_percent, .. } => Some((r, reduced_copayment_percent / 10)),
            _ => None,
        });
        match (certified, reduced) {
            (None, None) => None,
            (Some((record, tenths)), None) => {
                Some(EffectiveCopayment { tenths, certified_tenths: Some(tenths), record, raised: false })
            }
            (None, Some((record, raised))) => {
                Some(EffectiveCopayment { tenths: raised, certified_tenths: None, record, raised: true })
            }
            (Some((record, tenths)), Some((_, raised))) => Some(EffectiveCopayment {
                tenths: tenths.max(raised),
                certified_tenths: Some(tenths),
                record,
                raised: raised > tenths,
            }),
        }
    }
}

/// Where a date falls against a person's qualification (docs/domain/eligibility.md#qualification):
/// the spans are the timeline's 資格 records; a person without any has the pair on the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing<'a> {
    /// Before the first span.
    NotYet,
    /// Inside a span (`None` when the person has no spans and their pair covers the date).
    Insured(Option<&'a Record>),
    /// After a span ended and inside none: between two spans or after the last. The span is
    /// the last one that ended before the date (`None` for a person without spans).
    Lost(Option<&'a Record>),
}

/// The active spans of a timeline, any order.
pub fn spans(records: &[Record]) -> impl Iterator<Item = &Record> {
    records.iter().filter(|r| r.detail.kind() == Kind::Qualification)
}

/// Where `day` falls for the person of `timeline`.
pub fn standing(timeline: &Timeline, day: NaiveDate) -> Standing<'_> {
    let mut any = false;
    let mut lost: Option<&Record> = None;
    for span in spans(&timeline.records) {
        any = true;
        if span.covers(day) {
            return Standing::Insured(Some(span));
        }
        if span.end.is_some_and(|end| end < day) && lost.is_none_or(|l| l.end < span.end) {
            lost = Some(span);
        }
    }
    if any {
        return match lost {
            Some(span) => Standing::Lost(Some(span)),
            None => Standing::NotYet,
        };
    }
    // No spans: the person's single pair (a record of an older build).
    let person = &timeline.person;
    if person.acquired.is_some_and(|acquired| day < acquired) {
        Standing::NotYet
    } else if person.lost.is_some_and(|lost| lost <= day) {
        Standing::Lost(None)
    } else {
        Standing::Insured(None)
    }
}

#[cfg(test)]
mod tests;
