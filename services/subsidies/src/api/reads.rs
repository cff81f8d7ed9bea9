//! Reading applications: the applicant its own, operators all. Every call, allowed or not, is
//! one record in the platform's audit trail (`kaigo_platform::audit`), naming the applications
//! it read.

use kaigo_platform::audit::{self, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{self, ApiError, Violations};
use kaigo_proto::kaigo::subsidies::v1 as pb;
use tonic::Request;

use super::applications::check_application_id;
use super::{Api, access, convert, page_size};
use crate::store;

/// The audit trail's category of an application read.
pub(super) const CATEGORY: &str = "subsidy_application";

impl Api {
    /// One call's read of `applications` (ids), as the audit trail records it.
    fn read(caller: &Caller, rpc: &'static str, applications: Vec<String>, outcome: &'static str) -> ReadRecord {
        ReadRecord {
            rpc,
            category: CATEGORY,
            purpose: if caller.role == Role::Operator { "subsidy_review" } else { "own_application" }.to_owned(),
            outcome,
            persons: Vec::new(),
            resources: applications,
        }
    }

    pub(super) async fn get(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<pb::GetApplicationResponse, ApiError> {
        let caller = Caller::from_request(&request)?;
        access::require_participant(caller)?;
        let id = &request.get_ref().application_id;
        let mut v = Violations::new();
        check_application_id(&mut v, "application_id", id);
        v.into_result()?;
        let reads = self.reads.for_key(caller.party().as_bytes());
        let found = store::find(&reads, id).await.map_err(errors::db)?;
        let lang = convert::Lang::from_metadata(request.metadata());
        let (outcome, result) = match found {
            Some(record) if access::may_read(caller, &record.application.applicant_number) => {
                let history = store::history_of(&reads, id).await.map_err(errors::db)?;
                let application = convert::application(&record, lang).map(|mut a| {
                    a.history = history.iter().map(convert::event).collect();
                    a
                });
                (audit::ALLOWED, application)
            }
            Some(_) => (audit::DENIED, Err(access::not_yours())),
            None if caller.role == Role::Operator => {
                (audit::NOT_FOUND, Err(ApiError::not_found("APPLICATION_NOT_FOUND", "no application with this id")))
            }
            None => (audit::NOT_FOUND, Err(access::not_yours())),
        };
        self.auditor.record(caller, Self::read(caller, "GetApplication", vec![id.clone()], outcome)).await;
        Ok(pb::GetApplicationResponse { application: Some(result?) })
    }

    pub(super) async fn list(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<pb::ListApplicationsResponse, ApiError> {
        let caller = Caller::from_request(&request)?;
        access::require_participant(caller)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let limit = page_size(&mut v, req.page_size);
        let after = if req.page_token.is_empty() {
            None
        } else {
            let parsed = parse_token(&req.page_token);
            if parsed.is_none() {
                v.add("page_token", "not a token from this RPC");
            }
            parsed
        };
        if !req.programme_id.is_empty() && req.programme_id.chars().count() > super::MAX_PROGRAMME_ID {
            v.add("programme_id", format!("at most {} characters", super::MAX_PROGRAMME_ID));
        } else if !req.programme_id.is_empty() && self.catalogue.get(&req.programme_id).is_none() {
            v.add("programme_id", "unknown programme");
        }
        let statuses: Vec<String> = kaigo_platform::validate::enum_filter(&mut v, "statuses", &req.statuses, 16, |s| {
            pb::ApplicationStatus::try_from(s).ok().and_then(convert::status_from)
        })
        .into_iter()
        .map(|st| st.as_str().to_owned())
        .collect();
        let applicant_kind = match pb::ApplicantKind::try_from(req.applicant_kind) {
            Ok(pb::ApplicantKind::Unspecified) => None,
            Ok(pb::ApplicantKind::CareOffice) => Some(convert::CARE_OFFICE.to_owned()),
            Ok(pb::ApplicantKind::MedicalInstitution) => Some(convert::MEDICAL_INSTITUTION.to_owned()),
            Err(_) => {
                v.add("applicant_kind", "not an applicant kind");
                None
            }
        };
        check_prefecture(&mut v, &req.prefecture_code);
        // An office number or an institution code: 10 characters.
        kaigo_platform::validate::max_chars(&mut v, "applicant_number", &req.applicant_number, 10);
        v.into_result()?;
        let applicants = if caller.role == Role::Operator {
            None
        } else {
            let own = access::own_numbers(caller);
            if !req.applicant_number.is_empty() && !own.contains(&req.applicant_number) {
                return Err(access::not_yours());
            }
            Some(own)
        };
        let filter = store::ListFilter {
            applicants,
            programme_id: (!req.programme_id.is_empty()).then(|| req.programme_id.clone()),
            statuses,
            applicant_kind,
            prefecture_code: (!req.prefecture_code.is_empty()).then(|| req.prefecture_code.clone()),
            applicant_number: (!req.applicant_number.is_empty()).then(|| req.applicant_number.clone()),
        };
        let reads = self.reads.for_key(caller.party().as_bytes());
        let (records, total) = store::list(&reads, &filter, after.as_ref(), limit).await.map_err(errors::db)?;
        let lang = convert::Lang::from_metadata(request.metadata());
        let applications = records.iter().map(|r| convert::application(r, lang)).collect::<Result<Vec<_>, _>>()?;
        let listed = records.iter().map(|r| r.application.id.clone()).collect();
        self.auditor.record(caller, Self::read(caller, "ListApplications", listed, audit::ALLOWED)).await;
        let full_page = u64::try_from(records.len()).unwrap_or(0) == limit;
        Ok(pb::ListApplicationsResponse {
            next_page_token: match records.last() {
                Some(last) if full_page => token(&last.application),
                _ => String::new(),
            },
            applications,
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }
}

/// The page token after `last`: its creation time (microseconds) and id.
fn token(last: &store::application::Model) -> String {
    format!("{}.{}", last.created_at.timestamp_micros(), last.id)
}

/// A token from [`token`].
/// At most 64 characters: the microseconds (at most 20 characters with a sign), the dot and a
/// 36-character id, as the contract documents.
fn parse_token(token: &str) -> Option<store::After> {
    if token.len() > 64 {
        return None;
    }
    let (micros, id) = token.split_once('.')?;
    let created_at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    if id.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(id).ok()?;
    Some(store::After { created_at, id: id.to_owned() })
}

/// Checks an optional two-digit prefecture code (01–47).
pub(super) fn check_prefecture(v: &mut Violations, code: &str) {
    if code.is_empty() {
        return;
    }
    let valid = code.len() == 2 && code.parse::<u8>().is_ok_and(|n| (1..=47).contains(&n));
    if !valid {
        v.add("prefecture_code", "must be a two-digit prefecture code, 01–47");
    }
}
