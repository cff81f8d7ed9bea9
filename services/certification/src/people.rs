//! How the service decides that an application names an unknown person.
//!
//! The insurer registers its insured persons in the eligibility service; certification must not
//! read eligibility's tables. The check is therefore a pluggable [`PersonDirectory`]:
//!
//! - Every submission first validates the identifiers themselves (保険者番号 with its check
//!   digit, 被保険者番号 format) — malformed numbers are INVALID_ARGUMENT before any lookup.
//! - The directory then says whether the insurer knows the person. The production answer is a
//!   gRPC call to eligibility (`GetEligibilityHistory` / `CheckEligibility`), which is being
//!   built concurrently and is **not wired yet**: until it is, [`AcceptingDirectory`] accepts
//!   every well-formed person, and the deployment logs once at start that the check is off.
//! - An unknown person is FAILED_PRECONDITION `INSURED_PERSON_UNKNOWN`; a directory that cannot
//!   be reached is UNAVAILABLE (the submission is not stored, and a retry with the same
//!   request_id is safe).

use futures::future::BoxFuture;
use kaigo_platform::errors::ApiError;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

/// The answer about one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonStatus {
    /// The insurer has this person.
    Known,
    /// The insurer has no such person.
    Unknown,
}

/// Looks persons up with their insurer.
pub trait PersonDirectory: Send + Sync + 'static {
    /// Whether `insurer` knows `insured`. Errors are UNAVAILABLE or INTERNAL.
    fn lookup<'a>(
        &'a self,
        insurer: &'a InsurerNumber,
        insured: &'a InsuredNumber,
    ) -> BoxFuture<'a, Result<PersonStatus, ApiError>>;
}

/// Accepts every well-formed person: the directory used until the eligibility check is wired.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptingDirectory;

impl PersonDirectory for AcceptingDirectory {
    fn lookup<'a>(
        &'a self,
        _insurer: &'a InsurerNumber,
        _insured: &'a InsuredNumber,
    ) -> BoxFuture<'a, Result<PersonStatus, ApiError>> {
        Box::pin(async { Ok(PersonStatus::Known) })
    }
}
