//! Moving onto the platform's write kit without losing data: the answers stored in the old
//! `idempotency` table are copied into `idempotency_records` (so a retry that arrives across
//! the upgrade still replays), the reads in `audit_log` into `audit_trail` (every past read
//! stays on record), then the old tables are dropped.

use kaigo_platform::idempotency::migration::LegacyTable;
use kaigo_platform::legacy::{LegacyCopy, LegacyKitMigration};
use kaigo_proto::kaigo::common::v1::Purpose;

/// The table [`super::migration::DocumentsTablesMigration`] created: one row per request id,
/// with the caller's organisation and SHA-256 of the encoded request (the platform's scheme).
pub const LEGACY_IDEMPOTENCY: LegacyTable = LegacyTable {
    table: "idempotency",
    party_column: Some("caller_org"),
    rpc_column: Some("rpc"),
    rpc_default: "",
    response_column: "response",
    created_column: "created_at",
    compatible_hash_column: Some("request_hash"),
};

/// Copies `idempotency` into `idempotency_records` and drops it.
pub fn copy_idempotency() -> LegacyKitMigration {
    LegacyKitMigration {
        name: "m20261204_000010_documents_copy_idempotency",
        copy: LegacyCopy::Idempotency(LEGACY_IDEMPOTENCY),
    }
}

/// Copies `audit_log` into `audit_trail` and drops it.
pub fn copy_audit() -> LegacyKitMigration {
    LegacyKitMigration {
        name: "m20261204_000011_documents_copy_audit",
        copy: LegacyCopy::Audit { table: "audit_log", select: legacy_audit_select() },
    }
}

/// The old rows as `audit_trail` records: the party as `Caller::party` spells it (operators had
/// no organisation: `<role>:<subject>`), the stored `Purpose` number by its name, the person as
/// `<保険者番号>:<被保険者番号>` (none when it was not known).
fn legacy_audit_select() -> String {
    let purposes: String = (0..=9)
        .filter_map(|n| Purpose::try_from(n).ok().map(|p| format!(" WHEN {n} THEN '{}'", p.as_str_name())))
        .collect();
    format!(
        "SELECT at, actor_role AS caller_role, \
         CASE WHEN actor_org = '' THEN actor_role || ':' || actor_subject ELSE actor_org END AS caller_party, \
         actor_subject AS caller_subject, action AS rpc, resource_kind AS category, \
         CASE purpose{purposes} ELSE 'PURPOSE_UNSPECIFIED' END AS purpose, outcome, \
         CASE WHEN insured_number = '' THEN '' ELSE insurer_number || ':' || insured_number END AS person, \
         resource_id AS resource FROM audit_log"
    )
}
