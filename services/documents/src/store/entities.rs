//! The tables of the documents schema, as sea-orm entities. Ids are UUIDv7 strings, so ordering
//! by id is ordering by creation time (newest-first pages need no extra index).

/// `opinion_requests`: the insurer's 作成依頼.
pub mod opinion_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "opinion_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub application_id: String,
        pub insurer_number: String,
        pub insured_number: String,
        pub institution_code: String,
        pub care_office_number: Option<String>,
        pub physician_name: String,
        /// `OpinionRequestKind` value.
        pub kind: i32,
        pub due_date: Option<Date>,
        /// Encoded `ApplicantDetails` (personal data: shown to the parties only).
        pub applicant: Vec<u8>,
        /// `OpinionRequestStatus` value.
        pub status: i32,
        pub latest_opinion_id: Option<String>,
        pub requested_by_subject: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// `OpinionSetting` value (0: not stated).
        pub setting: i32,
        /// `PhysicianKind` value (0: not stated).
        pub physician_kind: i32,
        /// `OpinionCount` value (0: not stated).
        pub opinion_count: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `opinions`: immutable submitted versions. The parties are copied from the request so that
/// listings filter on one table.
pub mod opinion {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "opinions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub opinion_request_id: String,
        pub application_id: String,
        pub insurer_number: String,
        pub insured_number: String,
        pub institution_code: String,
        pub care_office_number: Option<String>,
        pub previous_opinion_id: Option<String>,
        pub revision: i32,
        /// `OpinionStatus` value (the only column that changes after insert).
        pub status: i32,
        /// `OpinionFormEdition` value.
        pub form_edition: i32,
        /// Encoded `Opinion` holding the content sections only.
        pub content: Vec<u8>,
        pub submitted_by_subject: String,
        pub submitted_at: DateTimeUtc,
        pub received_by_subject: Option<String>,
        pub received_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `attachments`: metadata of encrypted blobs in object storage.
pub mod attachment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attachments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// `AttachmentPurpose` value.
        pub purpose: i32,
        pub subject_id: String,
        pub file_name: String,
        pub content_type: String,
        pub size_bytes: i64,
        pub sha256_hex: String,
        /// The encryption key id (rotation: old blobs keep naming their key).
        pub key_id: String,
        /// The object's key in the store.
        pub blob_key: String,
        pub uploaded_by_role: String,
        pub uploaded_by_subject: String,
        pub uploaded_by_org: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An unfinished unary upload.
pub mod upload_session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upload_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub request_id: String,
        pub caller_org: String,
        pub caller_role: String,
        pub caller_subject: String,
        /// The encoded `UploadMetadata` of the Start request.
        pub metadata: Vec<u8>,
        /// The key the parts are encrypted with.
        pub key_id: String,
        pub received_bytes: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
