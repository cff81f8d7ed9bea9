//! Events the registry consumes:
//! - service evidence (`careplan.service_evidence`, `kaigo.registry.v1.ServiceEvidenceObserved`),
//!   applied once per event id like RecordServiceEvidence (docs/domain/access.md#registrations);
//! - the care-management offices eligibility recorded before the registry
//!   (`eligibility.care_management_migrated`, `kaigo.registry.v1.CareManagementMigrated`),
//!   registered once with a consent recorded by the insurer (docs/domain/access.md#migrated).

use std::sync::Arc;

use kaigo_platform::events::{Event, EventHandler, HandlerError};
use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber, MedicalInstitutionCode};
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::registry::v1 as pb;
use prost::Message;
use sea_orm::DatabaseTransaction;

use crate::{changes, store};

/// A boxed future, as `EventHandler::handle` returns.
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The topic the care-plan service will publish service evidence on.
pub const TOPIC_SERVICE_EVIDENCE: &str = "careplan.service_evidence";

/// Applies [`pb::ServiceEvidenceObserved`] events.
pub struct ServiceEvidence {
    /// "Now" for the evidence row and the check that the day is not in the future.
    pub clock: Arc<dyn Clock>,
}

impl ServiceEvidence {
    /// The event's facts, checked; `None` (skipped, logged without personal data) when they
    /// do not hold.
    fn facts(event: &pb::ServiceEvidenceObserved) -> Option<(String, String, String, chrono::NaiveDate)> {
        let person = event.person.as_ref()?;
        let insurer = InsurerNumber::parse(&person.insurer_number).ok()?;
        let insured = InsuredNumber::parse(&person.insured_number).ok()?;
        let org = event.organization.as_ref()?;
        let number = match pb::OrganizationKind::try_from(org.kind).ok()? {
            pb::OrganizationKind::CareOffice | pb::OrganizationKind::ServiceProvider => {
                CareOfficeNumber::parse(&org.number).ok()?.as_str().to_owned()
            }
            pb::OrganizationKind::MedicalInstitution => {
                MedicalInstitutionCode::parse(&org.number).ok()?.as_str().to_owned()
            }
            pb::OrganizationKind::Unspecified => return None,
        };
        let date = kaigo_proto::to_naive_date(event.service_date.as_ref()?).ok()?;
        Some((insurer.as_str().to_owned(), insured.as_str().to_owned(), number, date))
    }
}

impl EventHandler for ServiceEvidence {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let observed = pb::ServiceEvidenceObserved::decode(event.payload.as_slice())?;
            let Some((insurer, insured, org, date)) = Self::facts(&observed) else {
                tracing::warn!(event_id = %event.id, "service evidence event with invalid facts skipped");
                return Ok(());
            };
            if date > self.clock.today_jst() {
                tracing::warn!(event_id = %event.id, "service evidence dated in the future skipped");
                return Ok(());
            }
            let Some(row) = store::active_registration(txn, &org, &insurer, &insured).await? else {
                // Service by an organisation that is not registered grants nothing.
                return Ok(());
            };
            changes::record_service(txn, row, date, &format!("event:{}", event.topic), self.clock.now()).await?;
            Ok(())
        })
    }
}

/// The topic eligibility's data migration writes its recorded care-management offices on.
pub const TOPIC_CARE_MANAGEMENT_MIGRATED: &str = "eligibility.care_management_migrated";

/// Registers the offices of [`pb::CareManagementMigrated`] events.
pub struct MigratedOffices {
    /// "Now" for the change and the first service evidence.
    pub clock: Arc<dyn Clock>,
}

impl MigratedOffices {
    /// The event's facts, checked; `None` (skipped, logged without personal data) when they
    /// do not hold.
    fn facts(event: &pb::CareManagementMigrated) -> Option<(String, String, String, chrono::NaiveDate)> {
        let person = event.person.as_ref()?;
        let insurer = InsurerNumber::parse(&person.insurer_number).ok()?;
        let insured = InsuredNumber::parse(&person.insured_number).ok()?;
        let office = CareOfficeNumber::parse(&event.office_number).ok()?;
        let start = kaigo_proto::to_naive_date(event.start_date.as_ref()?).ok()?;
        Some((insurer.as_str().to_owned(), insured.as_str().to_owned(), office.as_str().to_owned(), start))
    }
}

impl EventHandler for MigratedOffices {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let migrated = pb::CareManagementMigrated::decode(event.payload.as_slice())?;
            let Some((insurer, insured, office, start)) = Self::facts(&migrated) else {
                tracing::warn!(event_id = %event.id, "migrated care-management office with invalid facts skipped");
                return Ok(());
            };
            let now = self.clock.now();
            // Recorded as by the person's insurer, whose word eligibility held.
            let by: crate::changes::By = ("insurer".to_owned(), format!("event:{}", event.topic), insurer.clone());
            let recorded = crate::recorded::Recorded {
                kind: kaigo_access::OrganizationKind::CareOffice,
                organization: &office,
                insurer: &insurer,
                insured: &insured,
                start,
                evidence: crate::domain::Evidence::MigratedFromEligibility,
                categories: &kaigo_access::Category::ALL,
                purpose: kaigo_proto::kaigo::common::v1::Purpose::CarePlanning as i32,
                served_on: Some(kaigo_platform::time::jst_date(now)),
            };
            crate::recorded::record(txn, &recorded, &by, now).await?;
            Ok(())
        })
    }
}
