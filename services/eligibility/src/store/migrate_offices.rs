//! The care-management offices eligibility recorded before the registry become registrations
//! there (docs/domain/access.md#migrated): a data migration that writes one
//! `eligibility.care_management_migrated` event per office in force into the outbox, which
//! the relay publishes and the registry consumes.

use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_proto::kaigo::registry::v1 as pb;
use prost::Message;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sea_orm_migration::prelude::*;

use super::{ACTIVE, person, record, to_domain};
use crate::domain::Detail;

/// The topic the registry reads the migrated offices from.
pub const TOPIC: &str = "eligibility.care_management_migrated";

/// The migration's name (tests find it by this).
pub const NAME: &str = "m20261204_000001_eligibility_enqueue_care_management_offices";

/// Writes the events; runs once, like every migration.
pub struct EnqueueCareManagementOffices;

impl MigrationName for EnqueueCareManagementOffices {
    fn name(&self) -> &str {
        NAME
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for EnqueueCareManagementOffices {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let today = kaigo_platform::time::today_jst();
        let rows = record::Entity::find()
            .filter(record::Column::State.eq(ACTIVE))
            .filter(record::Column::Kind.eq(6_i16))
            .all(conn)
            .await?;
        let mut written = 0usize;
        for row in rows {
            let record = to_domain(&row)?;
            let Detail::CareManagement { office_number, .. } = &record.detail else { continue };
            // A self-made plan names no office; a period that ended before today is history.
            if office_number.is_empty() || record.end.is_some_and(|end| end < today) {
                continue;
            }
            let Some(person) = person::Entity::find_by_id(row.person_id).one(conn).await? else { continue };
            let event = pb::CareManagementMigrated {
                person: Some(pb::PersonRef {
                    insurer_number: person.insurer_number.clone(),
                    insured_number: person.insured_number.clone(),
                }),
                office_number: office_number.clone(),
                start_date: Some(kaigo_proto::from_naive_date(record.start)),
            };
            enqueue(
                conn,
                NewEvent { topic: TOPIC.to_owned(), key: row.id.to_string(), payload: event.encode_to_vec() },
            )
            .await?;
            written += 1;
        }
        tracing::info!(offices = written, "care-management offices handed to the registry");
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The events are published; the registrations they made stay in the registry.
        Ok(())
    }
}
