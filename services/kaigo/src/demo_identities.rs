//! The demo organisations a person signs in as on `kaigo dev`'s web screens: the ones the
//! services' demo data belongs to, so each screen has something to show at once.

use kaigo_gateway::DevIdentity;
use kaigo_platform::auth::Role;

/// The identity link (virtual card serial) of demo person 435073:0000000001, the demo
/// `insured_person`'s token subject.
pub const PERSON_LINK_ID: &str = "d000000001";

/// One demo organisation per role the screens serve.
pub fn all() -> Vec<DevIdentity> {
    let insurer = kaigo_certification::DEMO_INSURER_NUMBER;
    vec![
        identity(
            "insurer",
            Role::Insurer,
            &format!("保険者 水上村 ({insurer})"),
            &format!("Insurer: Mizukami ({insurer})"),
        )
        .insurer(insurer),
        identity(
            "care_office",
            Role::CareOffice,
            &format!("居宅介護支援事業所 デモ居宅介護支援事業所 ({})", kaigo_careplan::seed::DEMO_CARE_OFFICE),
            &format!("Care office: demo care management ({})", kaigo_careplan::seed::DEMO_CARE_OFFICE),
        )
        .office(kaigo_careplan::seed::DEMO_CARE_OFFICE),
        identity(
            "service_provider",
            Role::ServiceProvider,
            &format!("サービス事業所 デモ訪問介護事業所 ({})", kaigo_careplan::seed::DEMO_PROVIDER),
            &format!("Service provider: demo home care ({})", kaigo_careplan::seed::DEMO_PROVIDER),
        )
        .office(kaigo_careplan::seed::DEMO_PROVIDER),
        identity(
            "medical_institution",
            Role::MedicalInstitution,
            &format!("医療機関 デモ病院 ({})", kaigo_documents::seed::DEMO_INSTITUTION_CODE),
            &format!("Medical institution: demo hospital ({})", kaigo_documents::seed::DEMO_INSTITUTION_CODE),
        )
        .institution(kaigo_documents::seed::DEMO_INSTITUTION_CODE),
        identity("operator", Role::Operator, "運用担当 (プラットフォーム運用)", "Platform operator"),
        // The person of the first virtual card: their token's subject is their identity link,
        // the only one the registry's person RPCs accept from them.
        DevIdentity {
            subject: Some(PERSON_LINK_ID.to_owned()),
            ..identity(
                "insured_person",
                Role::InsuredPerson,
                &format!("被保険者 ({insurer} 0000000001)"),
                &format!("Insured person ({insurer} 0000000001)"),
            )
        },
    ]
}

fn identity(id: &str, role: Role, label_ja: &str, label_en: &str) -> DevIdentity {
    DevIdentity {
        id: id.to_owned(),
        role,
        label_ja: label_ja.to_owned(),
        label_en: label_en.to_owned(),
        insurer_number: None,
        office_number: None,
        institution_code: None,
        subject: None,
    }
}

trait Organisation {
    fn insurer(self, number: &str) -> Self;
    fn office(self, number: &str) -> Self;
    fn institution(self, code: &str) -> Self;
}

impl Organisation for DevIdentity {
    fn insurer(mut self, number: &str) -> Self {
        self.insurer_number = Some(number.to_owned());
        self
    }
    fn office(mut self, number: &str) -> Self {
        self.office_number = Some(number.to_owned());
        self
    }
    fn institution(mut self, code: &str) -> Self {
        self.institution_code = Some(code.to_owned());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The services seed their demo data for the same organisations, or a demo sign-in would
    /// see one service's data and not another's.
    #[test]
    fn the_services_demo_data_belongs_to_the_same_organisations() {
        let care_office = kaigo_careplan::seed::DEMO_CARE_OFFICE;
        assert_eq!(kaigo_eligibility::seed::DEMO_CARE_OFFICE, care_office);
        assert_eq!(kaigo_documents::seed::DEMO_CARE_OFFICE_NUMBER, care_office);
        assert_eq!(kaigo_documents::seed::DEMO_INSURER_NUMBER, kaigo_certification::DEMO_INSURER_NUMBER);
        assert_eq!(kaigo_eligibility::seed::DEMO_INSURERS[0], kaigo_certification::DEMO_INSURER_NUMBER);
    }

    /// Every demo identity must become a valid caller, or its sign-in would mint a useless token.
    #[test]
    fn every_demo_identity_is_a_valid_caller() {
        for identity in all() {
            let claims = identity.claims("i", "a", 0, 2);
            assert!(kaigo_gateway::caller_from_claims(claims).is_ok(), "{}", identity.id);
        }
    }

    /// The demo person's token names their identity link, the one the registry's person RPCs
    /// accept from them; the organisations keep `dev-<id>`.
    #[test]
    fn the_demo_person_signs_in_as_their_identity_link() {
        let subjects: Vec<(String, String)> =
            all().into_iter().map(|i| (i.id.clone(), i.claims("i", "a", 0, 2).sub)).collect();
        assert!(subjects.contains(&("insured_person".to_owned(), PERSON_LINK_ID.to_owned())), "{subjects:?}");
        assert!(subjects.contains(&("care_office".to_owned(), "dev-care_office".to_owned())), "{subjects:?}");
    }
}
