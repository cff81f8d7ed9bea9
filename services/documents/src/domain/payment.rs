//! The payment facts of a 主治医意見書 (docs/domain/opinion.md#payment-facts): 在宅/施設 and
//! 新規/継続, which set the 意見書作成料 the insurer pays, and 主治医/指定医. The insurer may state
//! them on its request; the opinion states them too, taking the request's where it is silent.

use kaigo_platform::errors::Violations;
use kaigo_proto::kaigo::documents::v1::{OpinionBasics, OpinionCount, OpinionRequest, OpinionSetting, PhysicianKind};

use super::fields;

/// The payment facts as stated: each `Unspecified` when not stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentFacts {
    /// 在宅/施設区分.
    pub setting: OpinionSetting,
    /// 医師区分.
    pub physician_kind: PhysicianKind,
    /// 新規 (初回) / 継続 (2回目以上).
    pub opinion_count: OpinionCount,
}

impl Default for PaymentFacts {
    fn default() -> Self {
        PaymentFacts {
            setting: OpinionSetting::Unspecified,
            physician_kind: PhysicianKind::Unspecified,
            opinion_count: OpinionCount::Unspecified,
        }
    }
}

/// What the request's three fields say: each optional, a stated one a known value.
pub fn of_request(v: &mut Violations, r: &OpinionRequest) -> PaymentFacts {
    let at = "opinion_request";
    PaymentFacts {
        setting: fields::code::<OpinionSetting>(v, &format!("{at}.setting"), r.setting, false)
            .unwrap_or(OpinionSetting::Unspecified),
        physician_kind: fields::code::<PhysicianKind>(v, &format!("{at}.physician_kind"), r.physician_kind, false)
            .unwrap_or(PhysicianKind::Unspecified),
        opinion_count: fields::code::<OpinionCount>(v, &format!("{at}.opinion_count"), r.opinion_count, false)
            .unwrap_or(OpinionCount::Unspecified),
    }
}

/// The opinion's facts: what its basics state, each a known value, the request's where they are
/// silent. A 医師区分 other than the one the request states is refused: the insurer designated
/// the doctor (or asked the attending one), the opinion cannot change that.
pub fn of_opinion(v: &mut Violations, b: &OpinionBasics, requested: PaymentFacts) -> PaymentFacts {
    let setting = fields::code::<OpinionSetting>(v, "basics.setting", b.setting, false);
    let physician = fields::code::<PhysicianKind>(v, "basics.physician_kind", b.physician_kind, false);
    if let Some(kind) = physician
        && requested.physician_kind != PhysicianKind::Unspecified
        && kind != requested.physician_kind
    {
        v.add(
            "basics.physician_kind",
            format!("must be {} as the request says, or unset", label(requested.physician_kind)),
        );
    }
    PaymentFacts {
        setting: setting.unwrap_or(requested.setting),
        physician_kind: physician.unwrap_or(requested.physician_kind),
        // The doctor's own statement (required by the content rules).
        opinion_count: OpinionCount::try_from(b.opinion_count).unwrap_or(OpinionCount::Unspecified),
    }
}

/// Writes the facts into the basics that will be stored.
pub fn fill(b: &mut OpinionBasics, facts: PaymentFacts) {
    b.setting = facts.setting as i32;
    b.physician_kind = facts.physician_kind as i32;
}

fn label(kind: PhysicianKind) -> &'static str {
    match kind {
        PhysicianKind::Attending => "PHYSICIAN_KIND_ATTENDING (主治医)",
        PhysicianKind::Designated => "PHYSICIAN_KIND_DESIGNATED (指定医)",
        PhysicianKind::Unspecified => "PHYSICIAN_KIND_UNSPECIFIED",
    }
}

/// The fee class of an opinion (意見書作成料): 在宅 or 施設, 新規 or 継続. `None` until both are
/// stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeClass {
    /// 在宅・新規.
    HomeFirst,
    /// 在宅・継続.
    HomeContinued,
    /// 施設・新規.
    FacilityFirst,
    /// 施設・継続.
    FacilityContinued,
}

impl PaymentFacts {
    /// The fee class these facts set, once both 在宅/施設 and 新規/継続 are stated.
    pub fn fee_class(&self) -> Option<FeeClass> {
        match (self.setting, self.opinion_count) {
            (OpinionSetting::Home, OpinionCount::First) => Some(FeeClass::HomeFirst),
            (OpinionSetting::Home, OpinionCount::SecondOrLater) => Some(FeeClass::HomeContinued),
            (OpinionSetting::Facility, OpinionCount::First) => Some(FeeClass::FacilityFirst),
            (OpinionSetting::Facility, OpinionCount::SecondOrLater) => Some(FeeClass::FacilityContinued),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basics(setting: OpinionSetting, kind: PhysicianKind, count: OpinionCount) -> OpinionBasics {
        OpinionBasics {
            setting: setting as i32,
            physician_kind: kind as i32,
            opinion_count: count as i32,
            ..Default::default()
        }
    }

    #[test]
    fn the_request_states_each_fact_or_none_and_only_known_values() {
        let mut v = Violations::new();
        let r = OpinionRequest { setting: 2, physician_kind: 2, opinion_count: 1, ..Default::default() };
        let facts = of_request(&mut v, &r);
        assert!(v.is_empty());
        assert_eq!(
            facts,
            PaymentFacts {
                setting: OpinionSetting::Facility,
                physician_kind: PhysicianKind::Designated,
                opinion_count: OpinionCount::First
            }
        );
        assert_eq!(of_request(&mut v, &OpinionRequest::default()), PaymentFacts::default());
        assert!(v.is_empty());
        let bad = OpinionRequest { setting: 9, physician_kind: 3, opinion_count: 7, ..Default::default() };
        of_request(&mut v, &bad);
        let fields: Vec<_> = v.as_slice().iter().map(|x| x.field.clone()).collect();
        assert_eq!(
            fields,
            ["opinion_request.setting", "opinion_request.physician_kind", "opinion_request.opinion_count"]
        );
    }

    #[test]
    fn the_opinion_takes_the_requests_facts_where_silent_and_never_another_physician_kind() {
        let requested = PaymentFacts {
            setting: OpinionSetting::Home,
            physician_kind: PhysicianKind::Designated,
            opinion_count: OpinionCount::First,
        };
        let mut v = Violations::new();
        let silent = basics(OpinionSetting::Unspecified, PhysicianKind::Unspecified, OpinionCount::SecondOrLater);
        let facts = of_opinion(&mut v, &silent, requested);
        assert!(v.is_empty());
        assert_eq!((facts.setting, facts.physician_kind), (OpinionSetting::Home, PhysicianKind::Designated));
        // The doctor's count and setting win: they know whether they wrote before, and where
        // the applicant lives now.
        assert_eq!(facts.fee_class(), Some(FeeClass::HomeContinued));
        let moved = basics(OpinionSetting::Facility, PhysicianKind::Designated, OpinionCount::First);
        assert_eq!(of_opinion(&mut v, &moved, requested).fee_class(), Some(FeeClass::FacilityFirst));
        assert!(v.is_empty());
        // Another physician kind than the request's is refused, naming what was expected.
        let other = basics(OpinionSetting::Home, PhysicianKind::Attending, OpinionCount::First);
        of_opinion(&mut v, &other, requested);
        let found: Vec<_> = v.as_slice().iter().map(|x| (x.field.clone(), x.description.clone())).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "basics.physician_kind");
        assert!(found[0].1.contains("指定医"), "{}", found[0].1);
        // With nothing stated anywhere, there is no fee class yet.
        let none = of_opinion(&mut Violations::new(), &OpinionBasics::default(), PaymentFacts::default());
        assert_eq!(none.fee_class(), None);
    }
}
