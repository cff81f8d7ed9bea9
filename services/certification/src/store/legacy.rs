//! Data-preserving migrations from the tables this service kept before the platform's write
//! kit: each copies the old table's rows into the platform's table and drops the old one, so
//! that nothing recorded before an upgrade is lost. Appended after the migrations that created
//! the old tables; never edited once released.

use kaigo_platform::idempotency::migration::LegacyTable;
use kaigo_platform::legacy::{LegacyCopy, LegacyKitMigration};

/// Copies `idempotency_keys` into the platform's `idempotency_records`: a retry that arrives
/// across the upgrade still gets its stored answer.
pub fn copy_idempotency_keys() -> LegacyKitMigration {
    LegacyKitMigration {
        name: "m20261204_100000_certification_copy_idempotency_keys",
        copy: LegacyCopy::Idempotency(IDEMPOTENCY_KEYS),
    }
}

/// The old table: no caller column (copied rows match any caller the RPC authorises, as before),
/// the RPC in its own column, and a hash of RPC + request that the platform's hash of the
/// request alone cannot match (copied rows replay on the key alone).
const IDEMPOTENCY_KEYS: LegacyTable = LegacyTable {
    table: "idempotency_keys",
    party_column: None,
    rpc_column: Some("rpc"),
    rpc_default: "",
    response_column: "response",
    created_column: "created_at",
    compatible_hash_column: None,
};

/// Copies `read_audit` (one row per application read) into the platform's `audit_trail`: every
/// read recorded before the upgrade stays on record, now findable by the person too.
pub fn copy_read_audit() -> LegacyKitMigration {
    LegacyKitMigration {
        name: "m20261204_100001_certification_copy_read_audit",
        copy: LegacyCopy::Audit { table: "read_audit", select: READ_AUDIT.to_owned() },
    }
}

/// The old rows as the trail's columns: the person from the application read (the old table
/// kept only its id), the caller's organisation as its party (`role:subject` for callers who
/// act for none, as `Caller::party` has it), `ok` as `allowed`, and the one category and
/// purpose this service reads for.
const READ_AUDIT: &str = "SELECT r.read_at AS at, r.caller_role AS caller_role, \
     CASE WHEN r.caller_organization = '' THEN r.caller_role || ':' || r.caller_subject \
          ELSE r.caller_organization END AS caller_party, \
     r.caller_subject AS caller_subject, r.rpc AS rpc, 'application' AS category, \
     'certification' AS purpose, CASE WHEN r.outcome = 'ok' THEN 'allowed' ELSE r.outcome END AS outcome, \
     COALESCE(a.insurer_number || ':' || a.insured_number, '') AS person, r.application_id AS resource \
     FROM read_audit r LEFT JOIN applications a ON a.id = r.application_id";
