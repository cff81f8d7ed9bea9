//! The sea-orm entities of the subsidies schema.

/// `applications`: one row per application (one per applicant per programme).
pub mod application {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "applications")]
    pub struct Model {
        /// UUID v7: its text sorts by creation time, which pages "newest first".
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub programme_id: String,
        /// `care_office` or `medical_institution`.
        pub applicant_kind: String,
        /// Office number or institution code (organisations, not persons).
        pub applicant_number: String,
        pub prefecture_code: String,
        /// Sorted category ids joined with `+`, or the medical tier id.
        pub category_key: String,
        /// The claimed costs, as domain JSON.
        #[sea_orm(column_type = "Text")]
        pub costs: String,
        /// The calculation for those costs, as domain JSON (a snapshot: a later correction of
        /// the programme file does not change what was calculated).
        #[sea_orm(column_type = "Text")]
        pub calculation: String,
        pub eligible_amount_yen: i64,
        pub status: String,
        pub approved_amount_yen: Option<i64>,
        pub rejection_reason: Option<String>,
        pub paid_amount_yen: Option<i64>,
        pub paid_date: Option<Date>,
        pub payment_reference: Option<String>,
        pub submitted_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub updated_by_role: String,
        pub updated_by_subject: String,
        pub updated_by_org: String,
        pub version: i64,
        /// The reasons of the latest return for correction, as a JSON array of strings.
        #[sea_orm(column_type = "Text", nullable)]
        pub return_reasons: Option<String>,
        /// 1 for the applicant's first application to the programme, 2 after a rejection …
        pub attempt: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `application_evidence`: references to files the documents service stores.
pub mod evidence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "application_evidence")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub application_id: String,
        /// DocumentService attachment id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub attachment_id: String,
        pub kind: String,
        pub description: String,
        pub attached_at: DateTimeUtc,
        pub attached_by_subject: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `application_events`: every change of an application, one row per version it produced.
pub mod application_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "application_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub application_id: String,
        /// The version the change produced.
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        /// `create`, `update`, `submit` … or `recorded` (the state when history began).
        pub action: String,
        /// The stored status before the change ("" for `create` and `recorded`).
        pub from_status: String,
        pub to_status: String,
        pub at: DateTimeUtc,
        pub actor_role: String,
        pub actor_subject: String,
        pub actor_org: String,
        pub eligible_amount_yen: i64,
        /// The approved or paid amount (`approve`, `pay`).
        pub amount_yen: Option<i64>,
        /// The reasons given (`reject`, `return`), as a JSON array of strings.
        #[sea_orm(column_type = "Text")]
        pub reasons: String,
        /// The costs after the change, as domain JSON: every submitted version stays readable.
        #[sea_orm(column_type = "Text")]
        pub costs: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
