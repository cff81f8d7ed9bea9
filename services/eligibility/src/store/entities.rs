//! sea-orm entities of the eligibility schema.

pub mod person {
    //! One insured person (被保険者).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "persons")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub insurer_number: String,
        pub insured_number: String,
        pub name_kanji: String,
        pub name_kana: String,
        pub birth_date: Option<Date>,
        pub sex: i16,
        pub category: i16,
        pub acquired_date: Option<Date>,
        pub lost_date: Option<Date>,
        pub card_issued_date: Option<Date>,
        pub version: i64,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod record {
    //! One period of a person (certification, ratio, cost limit …), in any state.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "records")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub kind: i16,
        pub state: i16,
        pub start_date: Date,
        pub end_date: Option<Date>,
        /// The domain `Detail` as JSON.
        pub detail: String,
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
