//! sea-orm entities of the certification schema (created by [`super::migration`]).

/// `applications`: one row per application; queried columns plus the JSON body.
pub mod application {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "applications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub insurer_number: String,
        pub insured_number: String,
        pub acting_office_number: Option<String>,
        pub status: String,
        pub application_date: Date,
        pub decision_date: Option<Date>,
        /// Application date + 30 days (法27条11項).
        pub legal_deadline: Date,
        /// The deadline date, the latest delay notice's expected date, or for a renewal the end
        /// of the certification it renews, whichever is latest: overdue after it.
        pub effective_deadline: Date,
        pub version: i64,
        #[sea_orm(column_type = "JsonBinary")]
        pub body: Json,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// The last day a decision counts as on time: the legal deadline, or for a renewal the
        /// end of the certification it renews when later (added by `OnTimeUntil`).
        pub on_time_until: Option<Date>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `application_steps`: every step with its time and actor.
pub mod step {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "application_steps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub application_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence: i64,
        pub kind: i32,
        pub occur_time: DateTimeUtc,
        pub record_time: DateTimeUtc,
        pub actor_role: i32,
        pub actor_subject: String,
        pub actor_organization: String,
        pub summary: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `delay_notices`: 延期通知 in issue order.
pub mod delay_notice {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "delay_notices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub application_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub ordinal: i32,
        pub notice_date: Date,
        pub expected_date: Date,
        pub reason: i32,
        pub reason_text: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `certifications`: the decisions this service made, per person; renewals and level changes
/// need one in force (the service never reads eligibility's tables).
pub mod certification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "certifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub application_id: String,
        pub insurer_number: String,
        pub insured_number: String,
        /// 2-digit 要介護状態区分 code.
        pub care_level: String,
        pub validity_start: Option<Date>,
        pub validity_end: Option<Date>,
        pub decision_date: Date,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
