//! How the service decides that an application names an unknown person.
//!
//! The insurer registers its insured persons in the eligibility service; certification must not
//! read eligibility's tables. The check is therefore a pluggable [`PersonDirectory`]:
//!
//! - Every submission first validates the identifiers themselves (保険者番号 with its check
//!   digit, 被保険者番号 format) — malformed numbers are INVALID_ARGUMENT before any lookup.
//! - The directory then says whether the insurer knows the person on the application date.
//!   In production it is [`EligibilityDirectory`]: a `CheckEligibility` call to the eligibility
//!   service (`certification.eligibility_url`), signed as the application's insurer with purpose
//!   CERTIFICATION. With no URL configured the check is off: [`AcceptingDirectory`] accepts
//!   every well-formed person, and the service logs so once at start.
//! - An unknown person is FAILED_PRECONDITION `INSURED_PERSON_UNKNOWN`; a person known but not
//!   insured on the application date (qualification lost or not yet acquired) is accepted unless
//!   `certification.eligibility_refuse_unqualified` is set (then `INSURED_PERSON_NOT_QUALIFIED`):
//!   docs/domain/certification.md#process does not say whether such an application is refused, and the 申請区分
//!   codes (転入申請, 事前申請: UNCONFIRMED) suggest applications around a change of
//!   qualification exist, hence a parameter.
//! - The eligibility directory also answers the certification in force on the application date
//!   (the one a renewal or level change works from; eligibility is its source of truth,
//!   docs/domain/certification.md#current-certification). [`AcceptingDirectory`] holds none, so
//!   this service's own decisions answer.
//! - A directory that cannot be reached is UNAVAILABLE (the submission is not stored, and a
//!   retry with the same request_id is safe).

mod eligibility;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use kaigo_platform::errors::ApiError;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

pub use crate::domain::submission::InForce;

pub use eligibility::{
    CHECK_ELIGIBILITY_PATH, Discovery, EligibilityDirectory, EligibilityPolicy, SUBJECT, balanced_channel, parse_url,
};

/// The answer about one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonStatus {
    /// The insurer has this person (and, where the directory is asked to check it, the person
    /// is insured on the date).
    Known,
    /// The insurer has no such person.
    Unknown,
    /// The insurer has the person, but they are not insured on the date (qualification lost
    /// or not yet acquired), and the directory is configured to refuse that.
    NotQualified,
}

/// The answer about one person: whether the insurer knows them, and (where the directory holds
/// certifications) the certification in force on the date, which renewals and level changes
/// work from (docs/domain/certification.md#current-certification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Known, unknown or not qualified.
    pub status: PersonStatus,
    /// The certification in force on the date, as the directory knows it.
    pub in_force: InForce,
}

impl From<PersonStatus> for Person {
    /// An answer from a directory that holds no certifications.
    fn from(status: PersonStatus) -> Self {
        Self { status, in_force: InForce::NotAsked }
    }
}

/// Looks persons up with their insurer.
pub trait PersonDirectory: Send + Sync + 'static {
    /// Whether `insurer` knows `insured` on `as_of` (the application date, JST), and the
    /// certification in force then. Errors are UNAVAILABLE or INTERNAL.
    fn lookup<'a>(
        &'a self,
        insurer: &'a InsurerNumber,
        insured: &'a InsuredNumber,
        as_of: NaiveDate,
    ) -> BoxFuture<'a, Result<Person, ApiError>>;
}

/// Accepts every well-formed person: the directory when the eligibility check is off
/// (`certification.eligibility_url` empty) and for the `kaigo dev` demo seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptingDirectory;

impl PersonDirectory for AcceptingDirectory {
    fn lookup<'a>(
        &'a self,
        _insurer: &'a InsurerNumber,
        _insured: &'a InsuredNumber,
        _as_of: NaiveDate,
    ) -> BoxFuture<'a, Result<Person, ApiError>> {
        Box::pin(async { Ok(PersonStatus::Known.into()) })
    }
}
