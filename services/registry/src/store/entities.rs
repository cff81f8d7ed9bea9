//! The sea-orm entities of the registry schema.

/// `card_confirmations`: one row per challenge; completed once.
pub mod confirmation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "card_confirmations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The organisation it was issued to (`Caller::party`).
        pub party: String,
        pub challenge: Vec<u8>,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub completed_at: Option<DateTimeUtc>,
        pub link_id: Option<String>,
        pub insurer_number: Option<String>,
        pub insured_number: Option<String>,
        pub usable_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `identity_links`: link id (a card certificate's serial) → insured person.
pub mod identity_link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub link_id: String,
        pub insurer_number: String,
        pub insured_number: String,
        pub revoked: bool,
        pub updated_at: DateTimeUtc,
        pub updated_by: String,
        /// 1 when first loaded, one more at each change (the event's version).
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `registrations`: the current version of each registration (every version is also in
/// `registration_versions`).
pub mod registration {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registrations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub version: i64,
        pub org_kind: String,
        pub org_number: String,
        pub insurer_number: String,
        pub insured_number: String,
        pub start_date: Date,
        pub evidence: String,
        pub card_confirmation_id: Option<String>,
        pub notification_id: Option<String>,
        pub registered_by_role: String,
        pub registered_by_subject: String,
        pub registered_by_org: String,
        pub created_at: DateTimeUtc,
        pub last_service_on: Option<Date>,
        pub ended_at: Option<DateTimeUtc>,
        pub end_reason: Option<String>,
        pub ended_by_role: Option<String>,
        pub ended_by_subject: Option<String>,
        pub ended_by_org: Option<String>,
        pub end_note: Option<String>,
        /// `<org>|<insurer>|<insured>` while active, NULL once ended (unique).
        pub active_key: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `registration_versions` and `consent_versions`: every version, encoded as the contract's
/// message, never changed.
pub mod registration_version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registration_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub registration_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub changed_at: DateTimeUtc,
        pub snapshot: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// See [`registration_version`].
pub mod consent_version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consent_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consent_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub changed_at: DateTimeUtc,
        pub snapshot: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `service_evidence`: each recorded service, never changed.
pub mod service_evidence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_evidence")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub registration_id: String,
        pub service_date: Date,
        pub recorded_at: DateTimeUtc,
        pub recorded_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `consents`: the current version of each consent.
pub mod consent {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub version: i64,
        pub insurer_number: String,
        pub insured_number: String,
        /// `organization` (grantee_number set) or an organisation kind.
        pub grantee_kind: String,
        pub grantee_number: Option<String>,
        /// Category names joined by commas.
        pub categories: String,
        /// `kaigo.common.v1.Purpose` number.
        pub purpose: i32,
        pub source: String,
        pub card_confirmation_id: Option<String>,
        pub valid_from: Date,
        pub valid_until: Option<Date>,
        pub recorded_by_role: String,
        pub recorded_by_subject: String,
        pub recorded_by_org: String,
        pub created_at: DateTimeUtc,
        pub withdrawn_at: Option<DateTimeUtc>,
        pub withdrawn_by_role: Option<String>,
        pub withdrawn_by_subject: Option<String>,
        pub withdrawn_by_org: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `care_plan_notifications`: 居宅サービス計画作成依頼届出.
pub mod notification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "care_plan_notifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub version: i64,
        pub insurer_number: String,
        pub insured_number: String,
        pub office_number: String,
        pub start_date: Date,
        /// `submitted`, `accepted` or `returned`.
        pub status: String,
        pub submitted_at: DateTimeUtc,
        pub submitted_by_subject: String,
        pub decided_at: Option<DateTimeUtc>,
        pub decided_by_role: Option<String>,
        pub decided_by_subject: Option<String>,
        pub decided_by_org: Option<String>,
        pub return_reason: Option<String>,
        pub registration_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
