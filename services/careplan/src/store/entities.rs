//! The tables of the careplan schema, as sea-orm entities. Bundle ids are UUIDv7 strings, so
//! ordering by id is ordering by arrival.

macro_rules! entity {
    ($module:ident, $table:literal, { $($body:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model { $($body)* }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

// `offices`: the registry. `version` counts licence changes (optimistic concurrency).
entity!(office, "offices", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub office_number: String,
    /// `care_office` or `provider`.
    pub role: String,
    pub name: String,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
});

// `licence_periods`: paid years and free passes.
entity!(licence_period, "licence_periods", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub office_number: String,
    /// `LicencePeriodKind` value.
    pub kind: i32,
    pub start_date: Date,
    pub end_date: Date,
    pub fee_yen: i64,
    pub rule_set_id: String,
    pub payment_reference: String,
    pub created_at: DateTimeUtc,
});

// `bundles`: one send unit and its delivery state.
entity!(bundle, "bundles", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub sender_office: String,
    pub sender_service_type: String,
    pub receiver_office: String,
    pub receiver_service_type: String,
    /// YYYYMM, or empty for units without a month.
    pub service_month: String,
    /// `SendUnitKind` value.
    pub kind: i32,
    pub file_sequence: String,
    /// SHA-256 over the files' names and hashes: a repeated sequence with other content is refused.
    pub content_hash: String,
    pub person_count: i32,
    /// The 保険者番号 of the persons in the bundle, sorted, space separated: which insurers may
    /// audit it (municipality numbers, not personal data).
    pub insurer_numbers: String,
    /// `BundleStatus` value.
    pub status: i32,
    pub sent_at: DateTimeUtc,
    pub sent_by_subject: String,
    pub delivered_at: Option<DateTimeUtc>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub acknowledged_by_subject: Option<String>,
    pub acknowledge_note: String,
    pub request_id: String,
});

// `bundle_files`: the files of a bundle, bytes as sent.
entity!(bundle_file, "bundle_files", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub bundle_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    pub file_name: String,
    /// `FileKind` value.
    pub kind: i32,
    pub csv_version: String,
    pub size_bytes: i64,
    pub sha256_hex: String,
    pub record_count: i32,
    pub content: Vec<u8>,
});

// `office_service_types`: the service types an office registered; it sends and receives under
// each (docs/domain/careplan-csv.md#office-types).
entity!(office_service_type, "office_service_types", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub office_number: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub service_type: String,
});
