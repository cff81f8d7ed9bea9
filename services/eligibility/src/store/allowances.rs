//! 住宅改修費 and 福祉用具購入費 uses (docs/domain/eligibility.md#allowances): table
//! `allowance_uses`, one row per use in any state; a correction inserts a successor and marks
//! the old row superseded, a void marks it voided. Writes run in the person's [`WriteTx`]
//! (the person row locked, the person's version bumped), reads on any connection.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use sea_orm_migration::prelude::*;

use super::ACTIVE;
use super::write::{Author, WriteTx};
use crate::domain::allowances::{AllowanceUse, UseFacts, UseKind};

pub mod entity {
    //! One use, in any state.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "allowance_uses")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        /// 1 住宅改修, 2 福祉用具購入 (domain `UseKind::code`).
        pub kind: i16,
        pub state: i16,
        pub claim_reference: String,
        pub receipt_date: Date,
        pub cost_yen: i64,
        /// The dwelling's reference (empty for purchases).
        pub dwelling_reference: String,
        pub description: String,
        pub supersedes: Option<i64>,
        pub superseded_by: Option<i64>,
        pub recorded_at: DateTimeUtc,
        pub recorded_by_role: String,
        pub recorded_by_subject: String,
        pub recorded_by_org: String,
        pub change_reason: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as Row;

/// A stored use as a domain use (`None` for a kind this build does not know).
pub fn to_domain(row: &Row) -> Option<AllowanceUse> {
    Some(AllowanceUse {
        id: row.id,
        facts: UseFacts {
            kind: UseKind::from_code(row.kind)?,
            reference: row.claim_reference.clone(),
            receipt: row.receipt_date,
            cost_yen: row.cost_yen,
            dwelling: row.dwelling_reference.clone(),
            description: row.description.clone(),
        },
    })
}

/// Every use of the person, any state, by receipt date then id.
pub async fn all(conn: &impl ConnectionTrait, person_id: i64) -> Result<Vec<Row>, DbErr> {
    entity::Entity::find()
        .filter(entity::Column::PersonId.eq(person_id))
        .order_by_asc(entity::Column::ReceiptDate)
        .order_by_asc(entity::Column::Id)
        .all(conn)
        .await
}

/// The person's active uses.
pub async fn active(conn: &impl ConnectionTrait, person_id: i64) -> Result<Vec<AllowanceUse>, DbErr> {
    let rows = entity::Entity::find()
        .filter(entity::Column::PersonId.eq(person_id))
        .filter(entity::Column::State.eq(ACTIVE))
        .all(conn)
        .await?;
    Ok(rows.iter().filter_map(to_domain).collect())
}

/// One use of the person, any state.
pub async fn one(conn: &impl ConnectionTrait, person_id: i64, use_id: i64) -> Result<Option<Row>, DbErr> {
    entity::Entity::find_by_id(use_id).filter(entity::Column::PersonId.eq(person_id)).one(conn).await
}

/// Adds an active use in the write's transaction.
pub async fn insert(
    tx: &WriteTx,
    person_id: i64,
    facts: &UseFacts,
    supersedes: Option<i64>,
    author: &Author<'_>,
) -> Result<Row, DbErr> {
    let caller = author.caller;
    entity::ActiveModel {
        id: sea_orm::NotSet,
        person_id: Set(person_id),
        kind: Set(facts.kind.code()),
        state: Set(ACTIVE),
        claim_reference: Set(facts.reference.clone()),
        receipt_date: Set(facts.receipt),
        cost_yen: Set(facts.cost_yen),
        dwelling_reference: Set(facts.dwelling.clone()),
        description: Set(facts.description.clone()),
        supersedes: Set(supersedes),
        superseded_by: Set(None),
        recorded_at: Set(tx.now()),
        recorded_by_role: Set(caller.role.as_str().to_owned()),
        recorded_by_subject: Set(caller.subject.clone()),
        recorded_by_org: Set(caller.organization().unwrap_or_default().to_owned()),
        change_reason: Set(author.reason.to_owned()),
    }
    .insert(tx.connection())
    .await
}

/// Marks a use superseded (by `successor`) or voided, keeping `reason` with a void.
pub async fn retire(
    tx: &WriteTx,
    row: Row,
    state: i16,
    successor: Option<i64>,
    reason: Option<&str>,
) -> Result<Row, DbErr> {
    let mut active: entity::ActiveModel = row.into();
    active.state = Set(state);
    active.superseded_by = Set(successor);
    if let Some(reason) = reason {
        active.change_reason = Set(reason.to_owned());
    }
    active.update(tx.connection()).await
}

/// The active uses of several persons (an import chunk's), by person id.
pub async fn active_of(
    conn: &impl ConnectionTrait,
    person_ids: &[i64],
) -> Result<HashMap<i64, Vec<AllowanceUse>>, DbErr> {
    let mut out: HashMap<i64, Vec<AllowanceUse>> = HashMap::new();
    for part in person_ids.chunks(5_000) {
        let rows = entity::Entity::find()
            .filter(entity::Column::PersonId.is_in(part.iter().copied()))
            .filter(entity::Column::State.eq(ACTIVE))
            .all(conn)
            .await?;
        for row in &rows {
            if let Some(u) = to_domain(row) {
                out.entry(row.person_id).or_default().push(u);
            }
        }
    }
    Ok(out)
}

/// Applies an import row's changes to one person's uses (recorded by the import, as its
/// periods are): a correction inserts the successor and supersedes the stored use, a new use is
/// inserted.
pub async fn apply_import(
    txn: &impl ConnectionTrait,
    person_id: i64,
    changes: &[(Option<i64>, &UseFacts)],
    recorded_by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for (old, facts) in changes {
        let new = entity::ActiveModel {
            id: sea_orm::NotSet,
            person_id: Set(person_id),
            kind: Set(facts.kind.code()),
            state: Set(ACTIVE),
            claim_reference: Set(facts.reference.clone()),
            receipt_date: Set(facts.receipt),
            cost_yen: Set(facts.cost_yen),
            dwelling_reference: Set(facts.dwelling.clone()),
            description: Set(facts.description.clone()),
            supersedes: Set(*old),
            superseded_by: Set(None),
            recorded_at: Set(now),
            recorded_by_role: Set("insurer".to_owned()),
            recorded_by_subject: Set("import".to_owned()),
            recorded_by_org: Set(recorded_by.to_owned()),
            change_reason: Set(if old.is_some() { "bulk import correction" } else { "bulk import" }.to_owned()),
        }
        .insert(txn)
        .await?;
        if let Some(old) = old {
            entity::ActiveModel {
                id: Set(*old),
                state: Set(super::SUPERSEDED),
                superseded_by: Set(Some(new.id)),
                ..Default::default()
            }
            .update(txn)
            .await?;
        }
    }
    Ok(())
}

/// The migration that creates `allowance_uses`.
pub struct CreateAllowanceUses;

impl MigrationName for CreateAllowanceUses {
    fn name(&self) -> &str {
        "m20261204_000400_eligibility_allowance_uses"
    }
}

#[derive(DeriveIden)]
enum AllowanceUses {
    Table,
    Id,
    PersonId,
    Kind,
    State,
    ClaimReference,
    ReceiptDate,
    CostYen,
    DwellingReference,
    Description,
    Supersedes,
    SupersededBy,
    RecordedAt,
    RecordedByRole,
    RecordedBySubject,
    RecordedByOrg,
    ChangeReason,
}

#[derive(DeriveIden)]
enum Persons {
    Table,
    Id,
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for CreateAllowanceUses {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AllowanceUses as U;
        manager
            .create_table(
                Table::create()
                    .table(U::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(U::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(U::PersonId).big_integer().not_null())
                    .col(ColumnDef::new(U::Kind).small_integer().not_null())
                    .col(ColumnDef::new(U::State).small_integer().not_null())
                    .col(ColumnDef::new(U::ClaimReference).string_len(32).not_null())
                    .col(ColumnDef::new(U::ReceiptDate).date().not_null())
                    .col(ColumnDef::new(U::CostYen).big_integer().not_null())
                    .col(ColumnDef::new(U::DwellingReference).string_len(64).not_null())
                    .col(ColumnDef::new(U::Description).text().not_null())
                    .col(ColumnDef::new(U::Supersedes).big_integer().null())
                    .col(ColumnDef::new(U::SupersededBy).big_integer().null())
                    .col(ColumnDef::new(U::RecordedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(U::RecordedByRole).string().not_null())
                    .col(ColumnDef::new(U::RecordedBySubject).string().not_null())
                    .col(ColumnDef::new(U::RecordedByOrg).string().not_null())
                    .col(ColumnDef::new(U::ChangeReason).text().not_null())
                    .foreign_key(ForeignKey::create().from(U::Table, U::PersonId).to(Persons::Table, Persons::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("allowance_uses_by_person")
                    .table(U::Table)
                    .col(U::PersonId)
                    .col(U::State)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AllowanceUses::Table).to_owned()).await
    }
}
