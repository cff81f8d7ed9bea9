//! The access types as the registry's contract spells them: used by the registry's answers and
//! events and by the test kit that builds those events.

use kaigo_access::{Category, OrganizationKind};
use kaigo_proto::kaigo::registry::v1 as pb;

/// The contract's kind of an organisation kind.
pub fn kind_message(kind: OrganizationKind) -> pb::OrganizationKind {
    match kind {
        OrganizationKind::CareOffice => pb::OrganizationKind::CareOffice,
        OrganizationKind::ServiceProvider => pb::OrganizationKind::ServiceProvider,
        OrganizationKind::MedicalInstitution => pb::OrganizationKind::MedicalInstitution,
    }
}

/// The contract's category of a category.
pub fn category_message(category: Category) -> pb::Category {
    match category {
        Category::InsuranceCertificates => pb::Category::InsuranceCertificates,
        Category::CostShare => pb::Category::CostShare,
        Category::Certification => pb::Category::Certification,
        Category::CarePlan => pb::Category::CarePlan,
    }
}
