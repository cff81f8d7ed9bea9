//! Who may send and receive a unit under which service type (docs/domain/careplan-csv.md#office-types).
//!
//! One office number often runs 居宅介護支援 (43) and a service such as 訪問介護 (11). An office
//! that registered its service types acts on the care office's side under its 43/46 types and
//! on the provider's side under its other types, each named in the v4 file names. An office that
//! registered none keeps the one side of its registry role (`care_office` or `provider`).

use std::collections::BTreeSet;

use super::kind::SenderSide;
use super::spec::ServiceTypes;

/// An office as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// `care_office` or `provider`.
    pub role: String,
    /// The service types it registered (may be empty).
    pub types: BTreeSet<String>,
}

/// The registry role that stands for a side.
pub fn role_name(side: SenderSide) -> &'static str {
    match side {
        SenderSide::CareOffice => "care_office",
        SenderSide::Provider => "provider",
    }
}

/// True when a service type belongs to `side`: 43/46 to the care office, the exchanged types
/// to the provider.
pub fn type_of_side(side: SenderSide, service_type: &str, types: &ServiceTypes) -> bool {
    match side {
        SenderSide::CareOffice => types.is_care_management(service_type),
        SenderSide::Provider => types.is_exchanged(service_type),
    }
}

/// Why an office may not act in a unit, or `None` when it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It registered service types, but not this one.
    TypeNotRegistered,
    /// It registered no service type of this side (or, without types, its role is the other side).
    WrongSide,
}

/// May `office` act on `side` under `service_type` (empty for v3 names, which carry none)?
pub fn may_act(office: &Registered, side: SenderSide, service_type: &str, types: &ServiceTypes) -> Option<Refusal> {
    if office.types.is_empty() {
        return (office.role != role_name(side)).then_some(Refusal::WrongSide);
    }
    if service_type.is_empty() {
        let any = office.types.iter().any(|t| type_of_side(side, t, types));
        return (!any).then_some(Refusal::WrongSide);
    }
    if office.types.contains(service_type) {
        None
    } else if office.types.iter().any(|t| type_of_side(side, t, types)) {
        Some(Refusal::TypeNotRegistered)
    } else {
        Some(Refusal::WrongSide)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec::Spec;

    fn office(role: &str, types: &[&str]) -> Registered {
        Registered { role: role.to_owned(), types: types.iter().map(|t| (*t).to_owned()).collect() }
    }

    #[test]
    fn an_office_with_43_and_11_acts_on_both_sides_under_those_types() {
        let spec = Spec::embedded().unwrap();
        let t = &spec.service_types;
        let both = office("care_office", &["11", "43"]);
        assert_eq!(may_act(&both, SenderSide::CareOffice, "43", t), None);
        assert_eq!(may_act(&both, SenderSide::Provider, "11", t), None);
        assert_eq!(may_act(&both, SenderSide::Provider, "15", t), Some(Refusal::TypeNotRegistered));
        assert_eq!(may_act(&both, SenderSide::CareOffice, "46", t), Some(Refusal::TypeNotRegistered));
        // v3 names carry no type: any type of the side will do.
        assert_eq!(may_act(&both, SenderSide::Provider, "", t), None);
        let care_only = office("care_office", &["43"]);
        assert_eq!(may_act(&care_only, SenderSide::Provider, "11", t), Some(Refusal::WrongSide));
        assert_eq!(may_act(&care_only, SenderSide::Provider, "", t), Some(Refusal::WrongSide));
    }

    #[test]
    fn without_types_the_registry_role_decides() {
        let spec = Spec::embedded().unwrap();
        let t = &spec.service_types;
        let provider = office("provider", &[]);
        assert_eq!(may_act(&provider, SenderSide::Provider, "11", t), None);
        assert_eq!(may_act(&provider, SenderSide::CareOffice, "43", t), Some(Refusal::WrongSide));
    }
}
