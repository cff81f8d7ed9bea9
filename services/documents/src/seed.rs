//! Demo data of `kaigo dev`, with ids other services and the README can rely on, and a
//! complete sample opinion (used by the demo and by tests as a known-good form).
//!
//! The ids are fixed constants so that the services seed matching records without talking to
//! each other: certification seeds [`DEMO_APPLICATION_ID`] for the insured person
//! [`DEMO_INSURED_NUMBER`] of insurer [`DEMO_INSURER_NUMBER`], and this service seeds the
//! 作成依頼 [`DEMO_OPINION_REQUEST_ID`] for it, addressed to [`DEMO_INSTITUTION_CODE`].

use chrono::{DateTime, Utc};
use kaigo_platform::service::StartError;
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::common::v1::{DementiaIndependenceLevel, DisabilityIndependenceLevel, InsuredCategory, Sex};
use kaigo_proto::kaigo::documents::v1::{
    ApplicantDetails, Diagnosis, DiseaseOpinion, FunctionAndServices, ImprovementOutlook, InfectionStatus,
    MentalPhysicalState, Opinion, OpinionBasics, OpinionCount, OpinionFormEdition, OpinionRequestKind,
    OpinionRequestStatus, OpinionSetting, OutdoorWalking, PhysicianKind, ServiceCautions, SpecialMedicalCare,
    SpecifiedDisease, SymptomStability,
};
use prost::Message;
use sea_orm::DatabaseConnection;

use crate::store;

/// 保険者番号 of the demo insurer (a real public example value; docs/domain/identifiers.md#test-values).
pub const DEMO_INSURER_NUMBER: &str = "435073";
/// 被保険者番号 of the demo insured person.
pub const DEMO_INSURED_NUMBER: &str = "0000000001";
/// The demo 要介護認定 application (certification's id).
pub const DEMO_APPLICATION_ID: &str = "0192f0c1-7a3b-7c00-8000-00000000a001";
/// The demo 主治医意見書作成依頼.
pub const DEMO_OPINION_REQUEST_ID: &str = "0192f0c1-7a3b-7c00-8000-00000000d001";
/// 医療機関コード the demo request is addressed to (passes the check digit).
pub const DEMO_INSTITUTION_CODE: &str = "1311234569";
/// The demo person's registered 居宅介護支援事業所: the care office certification and careplan seed.
pub const DEMO_CARE_OFFICE_NUMBER: &str = "4371000128";

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A complete, valid 令和8年 opinion for `opinion_request_id`, written on `written` (which
/// must not be before 2026-04-01 for this edition). Its one diagnosis is 脳血管疾患, a 特定疾病,
/// so it is valid for 第2号 applicants too.
pub fn sample_opinion(opinion_request_id: &str, written: Date) -> Opinion {
    Opinion {
        opinion_request_id: opinion_request_id.to_owned(),
        form_edition: OpinionFormEdition::Reiwa8 as i32,
        basics: Some(OpinionBasics {
            written_date: Some(written),
            physician_name: "医師 太郎".to_owned(),
            institution_name: "デモ病院".to_owned(),
            institution_address: "東京都千代田区1-1-1".to_owned(),
            institution_phone: "03-1234-5678".to_owned(),
            last_examination_date: Some(written),
            opinion_count: OpinionCount::First as i32,
            ..Default::default()
        }),
        disease: Some(DiseaseOpinion {
            diagnoses: vec![Diagnosis {
                name: "脳梗塞".to_owned(),
                onset_date: date(2024, 11, 0),
                specified_disease: SpecifiedDisease::CerebrovascularDisease as i32,
            }],
            stability: SymptomStability::Stable as i32,
            course_and_treatment: "リハビリテーション継続中。抗血小板薬内服。".to_owned(),
            ..Default::default()
        }),
        special_medical_care: vec![SpecialMedicalCare::Monitoring as i32],
        mental_physical: Some(MentalPhysicalState {
            disability_level: DisabilityIndependenceLevel::A2 as i32,
            dementia_level: DementiaIndependenceLevel::I as i32,
            height_cm: 158.0,
            weight_kg: 52.5,
            ..Default::default()
        }),
        function_services: Some(FunctionAndServices {
            outdoor_walking: OutdoorWalking::WithAssistance as i32,
            outlook: ImprovementOutlook::Expected as i32,
            medical_management_none: true,
            service_cautions: Some(ServiceCautions { nothing_to_note: true, ..Default::default() }),
            infection: InfectionStatus::None as i32,
            ..Default::default()
        }),
        remarks: String::new(),
        ..Default::default()
    }
}

/// Seeds the 作成依頼 for the demo application, created at `now` (idempotent: a second run
/// changes nothing).
pub async fn seed(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<(), StartError> {
    if store::get_request(db, DEMO_OPINION_REQUEST_ID).await?.is_some() {
        return Ok(());
    }
    let applicant = ApplicantDetails {
        name_kanji: "介護 花子".to_owned(),
        name_kana: "カイゴ ハナコ".to_owned(),
        birth_date: Some(Date { year: 1948, month: 4, day: 1 }),
        sex: Sex::Female as i32,
        insured_category: InsuredCategory::First as i32,
        ..Default::default()
    };
    let model = store::entities::opinion_request::Model {
        id: DEMO_OPINION_REQUEST_ID.to_owned(),
        application_id: DEMO_APPLICATION_ID.to_owned(),
        insurer_number: DEMO_INSURER_NUMBER.to_owned(),
        insured_number: DEMO_INSURED_NUMBER.to_owned(),
        institution_code: DEMO_INSTITUTION_CODE.to_owned(),
        care_office_number: Some(DEMO_CARE_OFFICE_NUMBER.to_owned()),
        physician_name: "医師 太郎".to_owned(),
        kind: OpinionRequestKind::First as i32,
        due_date: None,
        applicant: applicant.encode_to_vec(),
        status: OpinionRequestStatus::Requested as i32,
        latest_opinion_id: None,
        requested_by_subject: "kaigo-dev-seed".to_owned(),
        created_at: now,
        updated_at: now,
        // 在宅, the attending physician, a first opinion (docs/domain/opinion.md#payment-facts).
        setting: OpinionSetting::Home as i32,
        physician_kind: PhysicianKind::Attending as i32,
        opinion_count: OpinionCount::First as i32,
    };
    match store::insert_request(db, model).await {
        Ok(()) => Ok(()),
        // Two processes seeding at once: the other one won.
        Err(err) if kaigo_platform::db::is_unique_violation(&err) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
