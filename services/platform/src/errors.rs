//! One mapping from service errors to `tonic::Status` with google.rpc details (AIP-193).
//!
//! Each service keeps its own domain error enum and converts it into [`ApiError`]; this module
//! turns an `ApiError` into a `Status` carrying `ErrorInfo` (a stable reason code) and, for bad
//! input, a `BadRequest` with one field violation per problem. Internal causes are logged with
//! the trace id and never sent to the caller.

use std::collections::HashMap;
use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The ErrorInfo domain of every kaigo error.
pub const ERROR_DOMAIN: &str = "kaigo.jp";

/// The retry delay an UNAVAILABLE answer suggests unless told otherwise: long enough for a
/// restarted dependency or a failed-over connection, short enough for an interactive caller.
pub const UNAVAILABLE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The most field violations one error carries in its details (see
/// [`ApiError::invalid_argument`]).
pub const MAX_VIOLATIONS: usize = 50;

/// An error a caller can act on, or an internal one that it cannot. Boxed, so that the
/// `Result`s of every RPC stay one pointer wide on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<ErrorParts>);

#[derive(Debug)]
struct ErrorParts {
    code: Code,
    /// UPPER_SNAKE_CASE reason, stable per error (ErrorInfo.reason).
    reason: &'static str,
    /// English, developer-facing; never personal data.
    message: String,
    violations: Vec<FieldViolation>,
    metadata: HashMap<String, String>,
    retry_after: Option<std::time::Duration>,
    /// The cause of an internal or unavailable error: logged, never sent.
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    fn new(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        Self(Box::new(ErrorParts {
            code,
            reason,
            message: message.into(),
            violations: Vec::new(),
            metadata: HashMap::new(),
            retry_after: None,
            source: None,
        }))
    }

    /// INVALID_ARGUMENT with one field violation per problem.
    ///
    /// The details carry at most [`MAX_VIOLATIONS`]: they travel in the trailers, and a
    /// request with thousands of bad entries would otherwise produce trailers larger than
    /// HTTP/2 clients accept (16 KiB by default), which closes the client's whole connection.
    pub fn invalid_argument(violations: Violations) -> Self {
        let count = violations.0.len();
        let mut err = Self::new(
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            match count {
                1 => format!("invalid field {}: {}", violations.0[0].field, violations.0[0].description),
                n if n > MAX_VIOLATIONS => {
                    format!("{n} invalid fields; the first {MAX_VIOLATIONS} are in the BadRequest details")
                }
                n => format!("{n} invalid fields; see the BadRequest details"),
            },
        );
        let mut violations = violations.0;
        violations.truncate(MAX_VIOLATIONS);
        err.0.violations = violations;
        err
    }

    /// FAILED_PRECONDITION naming the rule (`reason`) that the request breaks.
    pub fn failed_precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, reason, message)
    }

    /// NOT_FOUND; only for callers who may know whether the resource exists.
    pub fn not_found(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, reason, message)
    }

    /// PERMISSION_DENIED: the caller may not do this (checked before existence).
    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::PermissionDenied, reason, message)
    }

    /// UNAUTHENTICATED: no or no valid caller identity.
    pub fn unauthenticated(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::Unauthenticated, reason, message)
    }

    /// ALREADY_EXISTS, e.g. a repeated `request_id` with a different body.
    pub fn already_exists(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::AlreadyExists, reason, message)
    }

    /// ABORTED: a concurrency conflict such as a stale `expected_version`; the caller re-reads.
    pub fn aborted(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::Aborted, reason, message)
    }

    /// RESOURCE_EXHAUSTED with a retry delay.
    pub fn resource_exhausted(
        reason: &'static str,
        message: impl Into<String>,
        retry_after: std::time::Duration,
    ) -> Self {
        let mut err = Self::new(Code::ResourceExhausted, reason, message);
        err.0.retry_after = Some(retry_after);
        err
    }

    /// UNAVAILABLE: a dependency (database, Redis, another service) cannot be reached. Carries
    /// RetryInfo ([`UNAVAILABLE_RETRY_AFTER`]; [`ApiError::with_retry_after`] changes it) so a
    /// caller knows the call is worth repeating, and when.
    pub fn unavailable(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut err =
            Self::new(Code::Unavailable, "DEPENDENCY_UNAVAILABLE", "a dependency is unavailable; retry later");
        err.0.source = Some(source.into());
        err.0.retry_after = Some(UNAVAILABLE_RETRY_AFTER);
        err
    }

    /// Sets the delay the RetryInfo detail suggests.
    pub fn with_retry_after(mut self, retry_after: std::time::Duration) -> Self {
        self.0.retry_after = Some(retry_after);
        self
    }

    /// INTERNAL: a bug or an unexpected state. The cause is logged, not sent.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut err = Self::new(Code::Internal, "INTERNAL", "internal error");
        err.0.source = Some(source.into());
        err
    }

    /// Adds ErrorInfo metadata (the dynamic parts of the message; never personal data).
    pub fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// The gRPC code this error maps to.
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The ErrorInfo reason.
    pub fn reason(&self) -> &'static str {
        self.0.reason
    }

    /// The field violations, for INVALID_ARGUMENT.
    pub fn violations(&self) -> &[FieldViolation] {
        &self.0.violations
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}: {}", self.0.code, self.0.reason, self.0.message)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Status {
        let err = *err.0;
        let mut message = err.message;
        let mut metadata = err.metadata;
        if let Some(source) = &err.source {
            let trace_id = crate::telemetry::current_trace_id();
            // The chain may hold SQL, hostnames or values; it goes to the log only.
            tracing::error!(trace_id = %trace_id, error.chain = %ErrorChain(source.as_ref()), reason = err.reason, "request failed");
            message = format!("{message} (trace id {trace_id})");
            metadata.insert("trace-id".to_owned(), trace_id);
        }
        let mut details = ErrorDetails::with_error_info(err.reason, ERROR_DOMAIN, metadata);
        if !err.violations.is_empty() {
            details.set_bad_request(err.violations);
        }
        if let Some(delay) = err.retry_after {
            details.set_retry_info(Some(delay));
        }
        Status::with_error_details(err.code, message, details)
    }
}

/// The one mapping of a database failure for every service:
/// - the database cannot be reached (no connection from the pool in time, a connection that
///   broke, an I/O error mid-query) → UNAVAILABLE with RetryInfo: the same call is worth
///   repeating, and a retry with the same `request_id` never doubles anything;
/// - anything else (a constraint the service did not expect, a bug) → INTERNAL, cause logged.
///
/// Constraints a service expects (a duplicate key after a concurrent retry, say) are checked
/// by the service before it gets here and answered with the caller's error.
pub fn db(err: sea_orm::DbErr) -> ApiError {
    if is_connection_failure(&err) { ApiError::unavailable(err) } else { ApiError::internal(err) }
}

/// [`db`] for an error shared between the callers a cache coalesced into one load.
pub fn db_shared(err: std::sync::Arc<sea_orm::DbErr>) -> ApiError {
    if is_connection_failure(&err) { ApiError::unavailable(err) } else { ApiError::internal(err) }
}

/// True when `err` says the database could not be reached or the connection was lost, rather
/// than that the statement failed.
pub fn is_connection_failure(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    match runtime {
        RuntimeErr::SqlxError(sqlx) => {
            matches!(
                sqlx.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed
                    | sea_orm::sqlx::Error::Tls(_)
                    | sea_orm::sqlx::Error::Protocol(_)
            ) || sqlx_is_admin_shutdown(sqlx.as_ref())
        }
        _ => false,
    }
}

/// PostgreSQL's own codes for a server going away (class 08 connection exception, 57P01–57P03
/// admin/crash shutdown, cannot connect now), and SQLite's busy/locked (`kaigo dev`: another
/// writer held the file past the busy timeout; the same call succeeds when retried).
fn sqlx_is_admin_shutdown(err: &sea_orm::sqlx::Error) -> bool {
    err.as_database_error().and_then(|db| db.code()).is_some_and(|code| {
        code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03") || is_sqlite_busy(code.as_ref())
    })
}

/// SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes (517 …).
/// PostgreSQL's SQLSTATEs are five characters, SQLite's codes at most four digits.
fn is_sqlite_busy(code: &str) -> bool {
    code.len() < 5 && code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// Formats an error and its `source()` chain on one line.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Collects field violations so that a request reports every problem at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field` (a path such as `entries[3].insured_number`).
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Records a problem with `field` and its own stable UPPER_SNAKE `reason`
    /// (FieldViolation.reason), for callers that act on each problem by code.
    pub fn add_reason(&mut self, field: impl Into<String>, reason: &str, description: impl Into<String>) {
        let mut violation = FieldViolation::new(field, description);
        reason.clone_into(&mut violation.reason);
        self.0.push(violation);
    }

    /// Records the error of `result`, if any, against `field`, and returns the value.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        self.check_at(format_args!("{field}"), result)
    }

    /// [`Violations::check`] with a path built by `format_args!`, formatted only for an error:
    /// a valid value costs no allocation (the hot path's check, loadtest/README.md#span-cost).
    pub fn check_at<T, E: fmt::Display>(&mut self, field: fmt::Arguments<'_>, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.add(field.to_string(), err.to_string());
                None
            }
        }
    }

    /// Moves every violation of `other` under `prefix` (e.g. `entries[3].`).
    pub fn extend_prefixed(&mut self, prefix: &str, other: Violations) {
        for v in other.0 {
            self.0.push(FieldViolation { field: format!("{prefix}{}", v.field), ..v });
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded violations.
    pub fn as_slice(&self) -> &[FieldViolation] {
        &self.0
    }

    /// `Ok(())` when empty, else INVALID_ARGUMENT carrying every violation.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::invalid_argument(self)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_of_violations_are_cut_to_what_a_client_accepts() {
        let mut v = Violations::new();
        for i in 0..5_000 {
            v.add(format!("entries[{i}].insured_number"), "must be 10 characters of 0-9 and A-Z");
        }
        let err = v.into_result().unwrap_err();
        assert_eq!(err.violations().len(), MAX_VIOLATIONS);
        let status = Status::from(err);
        assert!(status.message().starts_with("5000 invalid fields; the first 50"), "{}", status.message());
        assert!(status.details().len() < 8 * 1024, "{} bytes of details", status.details().len());
    }

    #[test]
    fn invalid_argument_carries_every_violation_and_the_reason() {
        let mut v = Violations::new();
        v.add("insurer_number", "check digit does not match");
        v.add("as_of", "no such calendar date");
        let status = Status::from(v.into_result().unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(details.bad_request().unwrap().field_violations.len(), 2);
        let info = details.error_info().unwrap();
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, ERROR_DOMAIN);
    }

    #[test]
    fn a_violation_keeps_its_own_reason_under_a_prefix() {
        let mut inner = Violations::new();
        inner.add_reason("line[14].column[7]", "BAD_CHECK_DIGIT", "the check digit does not match");
        let mut v = Violations::new();
        v.extend_prefixed("files[2].", inner);
        let status = Status::from(v.into_result().unwrap_err());
        let details = status.get_error_details();
        let violation = &details.bad_request().unwrap().field_violations[0];
        assert_eq!(violation.field, "files[2].line[14].column[7]");
        assert_eq!(violation.reason, "BAD_CHECK_DIGIT");
    }

    #[test]
    fn internal_causes_are_not_sent() {
        let status = Status::from(ApiError::internal("connection to 10.0.0.5:5432 refused"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("10.0.0.5"));
        assert!(status.message().contains("trace id"));
    }

    #[test]
    fn precondition_names_the_rule() {
        let status =
            Status::from(ApiError::failed_precondition("OPINION_NOT_RECEIVED", "primary judgment needs the opinion"));
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.get_error_details().error_info().unwrap().reason, "OPINION_NOT_RECEIVED");
    }

    #[test]
    fn rate_limits_carry_a_retry_delay() {
        let status = Status::from(ApiError::resource_exhausted(
            "RATE_LIMITED",
            "slow down",
            std::time::Duration::from_millis(250),
        ));
        let retry = status.get_error_details().retry_info().unwrap().retry_delay.unwrap();
        assert_eq!(retry, std::time::Duration::from_millis(250));
    }

    #[test]
    fn lost_connections_are_unavailable_and_the_rest_internal() {
        use sea_orm::{DbErr, RuntimeErr};
        let io = sea_orm::sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof"));
        let lost = db(DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(io))));
        assert_eq!(lost.code(), Code::Unavailable);
        let timeout = db(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert_eq!(timeout.code(), Code::Unavailable);
        let pool = sea_orm::sqlx::Error::PoolTimedOut;
        assert_eq!(db(DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(pool)))).code(), Code::Unavailable);
        let bug = db(DbErr::Custom("column does not exist".to_owned()));
        assert_eq!(bug.code(), Code::Internal);
        let row = db(DbErr::RecordNotFound("x".to_owned()));
        assert_eq!(row.code(), Code::Internal);
        assert!(is_sqlite_busy("5") && is_sqlite_busy("517") && is_sqlite_busy("6"));
        assert!(!is_sqlite_busy("19") && !is_sqlite_busy("23505") && !is_sqlite_busy("40001"));
    }

    #[test]
    fn an_unavailable_dependency_says_when_to_retry_and_hides_its_cause() {
        let status = Status::from(ApiError::unavailable("redis 10.0.0.7:6379 refused"));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("10.0.0.7"));
        let retry = status.get_error_details().retry_info().unwrap().retry_delay.unwrap();
        assert_eq!(retry, UNAVAILABLE_RETRY_AFTER);
        let later = Status::from(ApiError::unavailable("x").with_retry_after(std::time::Duration::from_secs(5)));
        assert_eq!(later.get_error_details().retry_info().unwrap().retry_delay.unwrap().as_secs(), 5);
    }
}
