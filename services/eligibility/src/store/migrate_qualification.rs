//! Each person's single qualification pair becomes their first qualification span
//! (docs/domain/eligibility.md#qualification): a data migration that adds, for every person
//! with a 資格取得年月日 and no span yet, one active span record from that date to the day
//! before the 資格喪失年月日 (open when there is none), without reasons. The person's pair
//! stays as it was (it is the latest span's) and the version is not bumped: answers do not
//! change, and a cached timeline without the span answers from the same pair.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

use super::ACTIVE;
use crate::domain::Detail;

/// The migration's name (tests find it by this).
pub const NAME: &str = "m20261205_000100_eligibility_qualification_spans";

/// Adds the spans; runs once, like every migration, and adds nothing for a person who has one.
pub struct QualificationSpans;

impl MigrationName for QualificationSpans {
    fn name(&self) -> &str {
        NAME
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for QualificationSpans {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let backend = conn.get_database_backend();
        let detail = Detail::Qualification { acquisition: 0, loss: 0 };
        let json = serde_json::to_string(&detail).map_err(|e| DbErr::Custom(e.to_string()))?;
        let kind = super::write::kind_code(&detail);
        // The record's period ends on the last day insured: the day before the lost date.
        let (last_day, p) = match backend {
            DbBackend::Postgres => ("p.lost_date - 1", ["$1", "$2", "$3", "$4"]),
            _ => ("date(p.lost_date, '-1 day')", ["?", "?", "?", "?"]),
        };
        let sql = format!(
            "INSERT INTO records (person_id, kind, state, start_date, end_date, detail, recorded_at, \
             recorded_by_role, recorded_by_subject, recorded_by_org, change_reason) \
             SELECT p.id, {kind}, {active}, p.acquired_date, {last_day}, {json}, {now}, 'system', 'migration', '', \
             'the single qualification pair as the first span' \
             FROM persons p WHERE p.acquired_date IS NOT NULL \
             AND (p.lost_date IS NULL OR p.lost_date > p.acquired_date) \
             AND NOT EXISTS (SELECT 1 FROM records r WHERE r.person_id = p.id AND r.kind = {kind_again} AND r.state = {active_again})",
            kind = p[0],
            active = p[1],
            json = p[2],
            now = p[3],
            kind_again = kind,
            active_again = ACTIVE,
        );
        let values: [sea_orm::Value; 4] = [kind.into(), ACTIVE.into(), json.into(), Utc::now().into()];
        let added = conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected();
        tracing::info!(spans = added, "qualification pairs migrated to spans");
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The spans the migration added; spans written since stay.
        let conn = manager.get_connection();
        let sql =
            "DELETE FROM records WHERE recorded_by_role = 'system' AND recorded_by_subject = 'migration' AND kind = 7";
        conn.execute_unprepared(sql).await?;
        Ok(())
    }
}
