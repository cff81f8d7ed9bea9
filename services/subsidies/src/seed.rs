//! Demo applications for `kaigo dev`: a care office in Gifu that has submitted, and a
//! hospital in Hokkaido under review. Written once; a second run finds them and changes
//! nothing (one application per applicant per programme).

use chrono::{DateTime, Utc};
use kaigo_platform::ids::{CareOfficeNumber, MedicalInstitutionCode, check_digit};
use kaigo_platform::service::StartError;
use sea_orm::DatabaseConnection;

use crate::api::convert::{CARE_OFFICE, MEDICAL_INSTITUTION};
use crate::catalogue::Catalogue;
use crate::domain::application::{Status, category_key};
use crate::domain::calculate::calculate;
use crate::domain::costs::{CareOfficeCosts, Costs, MedicalCosts, ReaderPurchase};
use crate::domain::programme::InstitutionType;
use crate::store::{self, application, application_event};

/// The demo programme.
const PROGRAMME: &str = "fy2025";
/// Demo rows name the seeding, not a person.
const SEEDER: &str = "kaigo-dev-seed";

fn with_check_digit(payload: &str) -> Result<String, StartError> {
    let cd = check_digit(payload.as_bytes()).ok_or("demo payload is not a valid identifier payload")?;
    Ok(format!("{payload}{cd}"))
}

/// Writes the demo applications that are not there yet.
pub async fn seed(db: &DatabaseConnection, catalogue: &Catalogue, now: DateTime<Utc>) -> Result<(), StartError> {
    let Some(programme) = catalogue.get(PROGRAMME) else { return Ok(()) };
    // 岐阜市 (21) office providing day and residential services; 北海道 hospital
    // (docs/domain/identifiers.md#test-values).
    let office = CareOfficeNumber::parse(&with_check_digit("217000001")?)?;
    let institution = MedicalInstitutionCode::parse("0110113719")?;
    let demos = [
        (
            Costs::CareOffice(CareOfficeCosts {
                office_number: office,
                category_ids: vec!["visit_day_short_stay".to_owned(), "residential".to_owned()],
                readers: vec![ReaderPurchase { quantity: 3, unit_price_yen: 22_000 }],
                connection_support_cost_yen: 55_000,
                careplan_setup_cost_yen: 11_000,
            }),
            Status::Submitted,
        ),
        (
            Costs::Medical(MedicalCosts {
                institution_code: institution,
                institution_type: InstitutionType::Hospital,
                beds: 250,
                software_change_cost_yen: 1_320_000,
            }),
            Status::UnderReview,
        ),
    ];
    for (costs, status) in demos {
        if store::latest_by_applicant(db, PROGRAMME, costs.applicant_number()).await?.is_some() {
            continue;
        }
        let calculation = calculate(&programme, &costs).map_err(|p| format!("demo claim refused: {p:?}"))?;
        let (kind, key) = match &costs {
            Costs::CareOffice(c) => (CARE_OFFICE, category_key(&c.category_ids)),
            Costs::Medical(_) => (MEDICAL_INSTITUTION, calculation.tier_id.clone().unwrap_or_default()),
        };
        let row = application::Model {
            id: uuid::Uuid::now_v7().to_string(),
            programme_id: PROGRAMME.to_owned(),
            applicant_kind: kind.to_owned(),
            applicant_number: costs.applicant_number().to_owned(),
            prefecture_code: costs.prefecture_code().to_owned(),
            category_key: key,
            costs: serde_json::to_string(&costs)?,
            calculation: serde_json::to_string(&calculation)?,
            eligible_amount_yen: calculation.eligible_amount_yen,
            status: status.as_str().to_owned(),
            approved_amount_yen: None,
            rejection_reason: None,
            paid_amount_yen: None,
            paid_date: None,
            payment_reference: None,
            submitted_at: Some(now),
            created_at: now,
            updated_at: now,
            updated_by_role: "system".to_owned(),
            updated_by_subject: SEEDER.to_owned(),
            updated_by_org: String::new(),
            version: if status == Status::Submitted { 2 } else { 3 },
            return_reasons: None,
            attempt: 1,
        };
        // Its history says how it got there: seeded, not created and submitted by someone.
        let event = application_event::Model {
            application_id: row.id.clone(),
            version: row.version,
            action: "recorded".to_owned(),
            from_status: String::new(),
            to_status: row.status.clone(),
            at: now,
            actor_role: row.updated_by_role.clone(),
            actor_subject: SEEDER.to_owned(),
            actor_org: String::new(),
            eligible_amount_yen: row.eligible_amount_yen,
            amount_yen: None,
            reasons: "[]".to_owned(),
            costs: row.costs.clone(),
        };
        let inserted = store::insert(db, row).await;
        let inserted = match inserted {
            Ok(()) => store::insert_event(db, event).await,
            Err(err) => Err(err),
        };
        if let Err(err) = inserted {
            // Another process seeding at the same moment wrote it first: nothing to do.
            if !kaigo_platform::db::is_unique_violation(&err) {
                return Err(err.into());
            }
        }
    }
    Ok(())
}
