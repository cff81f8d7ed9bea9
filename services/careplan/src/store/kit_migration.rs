//! Moving onto the platform's write kit without losing data: the answers stored in the old
//! `idempotency` table are copied into `idempotency_records` (so a retry that arrives across
//! the upgrade still replays), the bundle reads in `read_audit` into `audit_trail` (every past
//! read stays on record), then the old tables are dropped.

use kaigo_platform::auth::Role;
use kaigo_platform::idempotency::migration::LegacyTable;
use kaigo_platform::legacy::{LegacyCopy, LegacyKitMigration};

/// The table [`super::migration::CarePlanTablesMigration`] created: one row per request id,
/// with the caller's office (or insurer) and SHA-256 of the encoded request (the platform's
/// scheme). Operators' rows had no organisation (""): they keep the party "" and replay on the
/// RPC and request id alone.
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
        name: "m20261204_000010_careplan_copy_idempotency",
        copy: LegacyCopy::Idempotency(LEGACY_IDEMPOTENCY),
    }
}

/// Copies `read_audit` into `audit_trail` and drops it.
pub fn copy_audit() -> LegacyKitMigration {
    LegacyKitMigration {
        name: "m20261204_000011_careplan_copy_audit",
        copy: LegacyCopy::Audit { table: "read_audit", select: legacy_audit_select() },
    }
}

/// The old rows as `audit_trail` records: the party as `Caller::party` spells it (operators had
/// no organisation: `<role>:<subject>`), the purpose the reader's role implies (as reads record
/// it now), the bundle as the resource and no person (none was recorded).
fn legacy_audit_select() -> String {
    let purposes: String = Role::ALL
        .iter()
        .map(|role| {
            let purpose = crate::domain::bundle::read_purpose(*role).as_str_name();
            format!(" WHEN '{}' THEN '{purpose}'", role.as_str())
        })
        .collect();
    format!(
        "SELECT at, actor_role AS caller_role, \
         CASE WHEN actor_org = '' THEN actor_role || ':' || actor_subject ELSE actor_org END AS caller_party, \
         actor_subject AS caller_subject, action AS rpc, 'bundle' AS category, \
         CASE actor_role{purposes} ELSE 'PURPOSE_UNSPECIFIED' END AS purpose, outcome, '' AS person, \
         bundle_id AS resource FROM read_audit"
    )
}
