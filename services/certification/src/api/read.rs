//! Reads: one application, its progress, lists (with the overdue / at-risk filters) and the
//! per-insurer figures. Every read of a person's record is audited, refusals included.

use chrono::{Months, NaiveDate};
use kaigo_platform::audit::{self, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber};
use kaigo_platform::validate::enum_filter;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;
use sha2::{Digest, Sha256};

use super::{Inner, check_application_id, convert};
use crate::domain::access::{self, Parties, Relation};
use crate::domain::deadline::{self, DeadlineStatus};
use kaigo_platform::access::{Category, Decision, PersonRef};
use kaigo_platform::errors;

/// (status, application date, decision date, effective deadline, on-time-until).
type StatisticsRow = (Status, NaiveDate, Option<NaiveDate>, NaiveDate, NaiveDate);
use crate::domain::record::{ApplicationRecord, LoadedApplication};
use crate::domain::types::Status;
use crate::store::{self, ListFilter, ListOrder};

const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 500;

/// What the trail calls the records this service reads.
const CATEGORY: &str = "application";
/// The purpose of every read here: following a 要介護認定 application.
const PURPOSE: &str = "certification";

/// The audit record of one call's reads of `applications`.
fn read_record(rpc: &'static str, outcome: &'static str, applications: &[&ApplicationRecord]) -> ReadRecord {
    let mut persons: Vec<String> =
        applications.iter().map(|a| audit::person(&a.insurer_number, &a.insured_number)).collect();
    persons.sort();
    persons.dedup();
    ReadRecord {
        rpc,
        category: CATEGORY,
        purpose: PURPOSE.to_owned(),
        outcome,
        persons,
        resources: applications.iter().map(|a| a.id.clone()).collect(),
    }
}

impl Inner {
    /// Loads an application the caller may read, or refuses: PERMISSION_DENIED for roles that
    /// may never read and for strangers, NOT_FOUND for readers' unknown ids. Audited, refusals
    /// included (one record, naming the person whenever the application exists).
    pub(crate) async fn readable(
        &self,
        caller: &Caller,
        rpc: &'static str,
        application_id: &str,
    ) -> Result<LoadedApplication, ApiError> {
        if !access::role_may_read(caller.role) {
            // Attempts are audited too, when they name an application.
            if super::is_uuid(application_id) {
                let record = match store::load(&self.db, application_id).await? {
                    Some(loaded) => read_record(rpc, audit::DENIED, &[&loaded.record]),
                    None => ReadRecord {
                        resources: vec![application_id.to_owned()],
                        ..read_record(rpc, audit::DENIED, &[])
                    },
                };
                self.auditor.record(caller, record).await;
            }
            return Err(ApiError::permission_denied("READ_NOT_ALLOWED", "the caller may not read applications"));
        }
        let mut v = Violations::new();
        check_application_id(&mut v, application_id);
        v.into_result()?;
        // A replica, unless the caller has a write it has not replayed.
        let reads = self.reads.for_key(caller.party().as_bytes());
        let Some(loaded) = store::load(&reads, application_id).await? else {
            let record =
                ReadRecord { resources: vec![application_id.to_owned()], ..read_record(rpc, audit::NOT_FOUND, &[]) };
            self.auditor.record(caller, record).await;
            return Err(ApiError::not_found("APPLICATION_NOT_FOUND", "no application with this id"));
        };
        let r = &loaded.record;
        if let Err(refused) = self.may_read(caller, r).await {
            if refused.code() == tonic::Code::PermissionDenied {
                self.auditor.record(caller, read_record(rpc, audit::DENIED, &[r])).await;
            }
            return Err(refused);
        }
        self.auditor.record(caller, read_record(rpc, audit::ALLOWED, &[r])).await;
        Ok(loaded)
    }

    /// May `caller` read the application `r` today (docs/domain/access.md#in-kaigo)? The
    /// deciding insurer and the person who filed it by themselves; an organisation when the
    /// registry's facts let it see `CERTIFICATION` of the person (PERMISSION_DENIED
    /// `NOT_REGISTERED`, `CONSENT_REQUIRED` or `NOT_PERMITTED` otherwise); anyone else
    /// `READ_NOT_ALLOWED`. Not audited here (the caller audits).
    pub(crate) async fn may_read(&self, caller: &Caller, r: &ApplicationRecord) -> Result<(), ApiError> {
        let parties = Parties {
            insurer_number: &r.insurer_number,
            acting_office_number: r.acting_office_number.as_deref(),
            person_subject: r.person_subject.as_deref(),
        };
        match access::relation(caller, &parties) {
            Relation::Insurer | Relation::Person => Ok(()),
            Relation::ByFacts => {
                let person = PersonRef::new(&r.insurer_number, &r.insured_number);
                let facts = kaigo_platform::access::load(&self.db, person).await.map_err(errors::db)?;
                self.gate.decide(caller, person, Category::Certification, self.clock.today_jst(), &facts)
            }
            Relation::Stranger => Err(ApiError::permission_denied(
                "READ_NOT_ALLOWED",
                "only the insurer, the person and the organisations the person's registrations and consents admit may read this application",
            )),
        }
    }

    /// The persons an organisation may see `CERTIFICATION` of today: those it holds a
    /// registration for, each decided on their facts; for a person, the record their identity
    /// link binds (docs/domain/access.md#own-view). `None` for callers not decided this way.
    async fn persons_by_facts(&self, caller: &Caller) -> Result<Option<Vec<(String, String)>>, ApiError> {
        let today = self.clock.today_jst();
        let db = &self.db;
        let candidates = if caller.role == Role::InsuredPerson {
            kaigo_platform::access::linked_persons(db, &caller.subject).await.map_err(errors::db)?
        } else if access::decided_by_facts(caller.role) {
            let Some(org) = caller.organization() else { return Ok(Some(Vec::new())) };
            kaigo_platform::access::registered_persons(db, org, today).await.map_err(errors::db)?
        } else {
            return Ok(None);
        };
        let refs: Vec<PersonRef<'_>> = candidates.iter().map(|p| p.as_ref()).collect();
        let facts = kaigo_platform::access::load_many(db, &refs).await.map_err(errors::db)?;
        let none = kaigo_platform::access::Facts::default();
        Ok(Some(
            candidates
                .iter()
                .filter(|p| {
                    let f = facts.get(*p).unwrap_or(&none);
                    self.gate.allows(caller, p.as_ref(), Category::Certification, today, f) == Decision::Allowed
                })
                .map(|p| (p.insurer.clone(), p.insured.clone()))
                .collect(),
        ))
    }

    pub(crate) async fn get(
        &self,
        caller: &Caller,
        r: &pb::GetApplicationRequest,
    ) -> Result<pb::GetApplicationResponse, ApiError> {
        let loaded = self.readable(caller, "GetApplication", &r.application_id).await?;
        let today = self.clock.today_jst();
        Ok(pb::GetApplicationResponse {
            application: Some(convert::application(&loaded, today, self.settings.at_risk_day, true)),
        })
    }

    pub(crate) async fn progress(
        &self,
        caller: &Caller,
        r: &pb::GetApplicationProgressRequest,
    ) -> Result<pb::GetApplicationProgressResponse, ApiError> {
        let loaded = self.readable(caller, "GetApplicationProgress", &r.application_id).await?;
        let today = self.clock.today_jst();
        Ok(pb::GetApplicationProgressResponse {
            progress: Some(convert::progress(&loaded, None, today, self.settings.at_risk_day)),
        })
    }

    pub(crate) async fn list(
        &self,
        caller: &Caller,
        r: &pb::ListApplicationsRequest,
    ) -> Result<pb::ListApplicationsResponse, ApiError> {
        let denied = || ApiError::permission_denied("LIST_NOT_ALLOWED", "the caller may not list these applications");
        let mut v = Violations::new();
        let insurer = if r.insurer_number.is_empty() {
            None
        } else {
            v.check("insurer_number", InsurerNumber::parse(&r.insurer_number))
        };
        let office = if r.acting_office_number.is_empty() {
            None
        } else {
            v.check("acting_office_number", CareOfficeNumber::parse(&r.acting_office_number))
        };
        let insured = if r.insured_number.is_empty() {
            None
        } else {
            v.check("insured_number", InsuredNumber::parse(&r.insured_number))
        };
        if insured.is_some() && r.insurer_number.is_empty() && caller.role != Role::Insurer {
            v.add("insured_number", "needs insurer_number");
        }
        if r.page_size < 0 {
            v.add("page_size", "must not be negative");
        }
        // Unknown values refused, duplicates folded, at most the documented 16 (they reach SQL).
        let statuses = enum_filter(&mut v, "statuses", &r.statuses, 16, convert::status_from);
        let deadline_statuses =
            enum_filter(&mut v, "deadline_statuses", &r.deadline_statuses, 16, convert::deadline_status_from);
        let window = r.application_date_window.as_ref().and_then(|p| window(&mut v, "application_date_window", p));
        // Bounded as documented before the value is compared or the token parsed.
        kaigo_platform::validate::max_chars(&mut v, "page_token", &r.page_token, MAX_PAGE_TOKEN);
        if !kaigo_platform::validate::max_chars(&mut v, "order_by", &r.order_by, MAX_ORDER_BY) {
            return Err(ApiError::invalid_argument(v));
        }
        let order = match r.order_by.trim() {
            "" | "application_date desc" => ListOrder::ApplicationDateDesc,
            "urgency" => ListOrder::Urgency,
            _ => {
                v.add("order_by", "\"urgency\" or \"application_date desc\"");
                ListOrder::ApplicationDateDesc
            }
        };
        v.into_result()?;
        // Scope the list to what the caller may see.
        let (insurer_number, acting_office_number) = match caller.role {
            Role::Insurer => {
                let own = caller.insurer.as_ref().ok_or_else(denied)?;
                if insurer.as_ref().is_some_and(|i| i != own) {
                    return Err(denied());
                }
                (Some(own.as_str().to_owned()), office.map(|o| o.as_str().to_owned()))
            }
            // An organisation sees the applications of the persons the registry's facts let it
            // follow (CERTIFICATION), whoever filed them (docs/domain/access.md#in-kaigo).
            // A person sees the applications of the record their identity link binds, whoever
            // filed them (docs/domain/access.md#own-view).
            role if access::decided_by_facts(role) || role == Role::InsuredPerson => {
                (insurer.map(|i| i.as_str().to_owned()), office.map(|o| o.as_str().to_owned()))
            }
            _ => return Err(denied()),
        };
        let today = self.clock.today_jst();
        let mut filter = ListFilter {
            insurer_number,
            acting_office_number,
            insured_number: insured.map(|i| i.as_str().to_owned()),
            persons: None,
            statuses,
            deadline_statuses,
            window,
            order,
            today,
            at_risk_day: self.settings.at_risk_day,
        };
        // The page token is tied to what the caller asked, not to the persons it may see today.
        let fingerprint = fingerprint(&filter, caller);
        if let Some(persons) = self.persons_by_facts(caller).await? {
            // One person named: refused with the decision's own reason when not among them.
            if let (Some(insurer), Some(insured)) = (&filter.insurer_number, &filter.insured_number)
                && !persons.iter().any(|(i, n)| i == insurer && n == insured)
            {
                let person = PersonRef::new(insurer, insured);
                let facts = kaigo_platform::access::load(&self.db, person).await.map_err(errors::db)?;
                self.gate.decide(caller, person, Category::Certification, today, &facts)?;
            }
            filter.persons = Some(persons);
        }
        let offset = match r.page_token.as_str() {
            "" => 0,
            token => parse_token(token, &fingerprint).ok_or_else(|| {
                let mut v = Violations::new();
                v.add("page_token", "not a token from this list (the filters must not change between pages)");
                ApiError::invalid_argument(v)
            })?,
        };
        let size = match r.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let limit = u64::try_from(size).unwrap_or(50);
        let reads = self.reads.for_key(caller.party().as_bytes());
        let (records, total) = store::list(&reads, &filter, offset, limit).await?;
        if !records.is_empty() {
            let read: Vec<&ApplicationRecord> = records.iter().collect();
            self.auditor.record(caller, read_record("ListApplications", audit::ALLOWED, &read)).await;
        }
        let next = offset + records.len() as u64;
        let applications = records
            .into_iter()
            .map(|record| {
                let loaded = LoadedApplication { record, steps: Vec::new(), delay_notices: Vec::new() };
                convert::application(&loaded, today, self.settings.at_risk_day, false)
            })
            .collect::<Vec<_>>();
        // Notices are not loaded for lists; the deadline status must still count them.
        let applications = self.with_list_deadlines(applications, today).await?;
        Ok(pb::ListApplicationsResponse {
            applications,
            next_page_token: if next < total { format!("{next}.{fingerprint}") } else { String::new() },
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }

    /// Recomputes the deadline standing of listed applications with their delay notices.
    async fn with_list_deadlines(
        &self,
        mut apps: Vec<pb::Application>,
        today: NaiveDate,
    ) -> Result<Vec<pb::Application>, ApiError> {
        for app in &mut apps {
            // Only an open application's standing depends on its notices (they can move an
            // overdue one back to at risk); lists read rows without them, so re-read those.
            let open = app.deadline_status == pb::DeadlineStatus::AtRisk as i32
                || app.deadline_status == pb::DeadlineStatus::Overdue as i32;
            if open && let Some(full) = store::load(&self.db, &app.application_id).await? {
                let facts = convert::facts(&full, full.record.workflow.status);
                app.deadline_status =
                    convert::deadline_status(deadline::deadline_status(&facts, today, self.settings.at_risk_day))
                        as i32;
                app.delay_notices = convert::application(&full, today, self.settings.at_risk_day, false).delay_notices;
            }
        }
        Ok(apps)
    }

    pub(crate) async fn statistics(
        &self,
        caller: &Caller,
        r: &pb::GetInsurerStatisticsRequest,
    ) -> Result<pb::GetInsurerStatisticsResponse, ApiError> {
        if !matches!(caller.role, Role::Insurer | Role::Operator) {
            return Err(ApiError::permission_denied(
                "STATISTICS_NOT_ALLOWED",
                "only insurers and operators may read statistics",
            ));
        }
        let mut v = Violations::new();
        let insurer = v.check("insurer_number", InsurerNumber::parse(&r.insurer_number));
        let today = self.clock.today_jst();
        let requested = r.window.as_ref().and_then(|p| window(&mut v, "window", p));
        let Some(insurer) = insurer else { return Err(ApiError::invalid_argument(v)) };
        v.into_result()?;
        if caller.role == Role::Insurer && caller.insurer.as_ref() != Some(&insurer) {
            return Err(ApiError::permission_denied(
                "STATISTICS_NOT_ALLOWED",
                "an insurer may read only its own statistics",
            ));
        }
        let (start, end) = match requested {
            Some((s, e)) => (s, e.unwrap_or(today)),
            None => (today.checked_sub_months(Months::new(12)).unwrap_or(today), today),
        };
        let reads = self.reads.for_key(caller.party().as_bytes());
        let rows = store::statistics_rows(&reads, insurer.as_str(), start, end).await?;
        let decided: Vec<(NaiveDate, NaiveDate)> = rows
            .applications
            .iter()
            .filter(|(s, ..)| matches!(s, Status::Decided | Status::Notified))
            .filter_map(|(_, app, decided, ..)| Some((*app, (*decided)?)))
            .collect();
        let figures = deadline::decision_figures(&decided);
        let standing = |(status, app, decision, effective, on_time): &StatisticsRow| {
            let facts = deadline::stored_facts(*status, *app, *decision, *effective, *on_time);
            deadline::deadline_status(&facts, today, self.settings.at_risk_day)
        };
        let count = |want: DeadlineStatus| rows.applications.iter().filter(|a| standing(a) == want).count();
        let closed =
            rows.applications.iter().filter(|(s, ..)| matches!(s, Status::Withdrawn | Status::Cancelled)).count();
        let n = |x: usize| i32::try_from(x).unwrap_or(i32::MAX);
        Ok(pb::GetInsurerStatisticsResponse {
            statistics: Some(pb::InsurerStatistics {
                insurer_number: insurer.as_str().to_owned(),
                window: Some(common::Period {
                    start: Some(convert::wire_date(start)),
                    end: Some(convert::wire_date(end)),
                }),
                received_count: n(rows.applications.len()),
                decided_count: n(figures.decided),
                decided_within_30_days_count: n(figures.within_30_days),
                decided_on_time_count: n(count(DeadlineStatus::Met)),
                share_decided_within_30_days: figures.share_within_30_days,
                median_days_to_decision: figures.median_days,
                mean_days_to_decision: figures.mean_days,
                overdue_open_count: n(count(DeadlineStatus::Overdue)),
                at_risk_open_count: n(count(DeadlineStatus::AtRisk)),
                delay_notice_count: i32::try_from(rows.delay_notices).unwrap_or(i32::MAX),
                withdrawn_or_cancelled_count: n(closed),
            }),
        })
    }
}

/// A date window: start required, end optional and not before the start.
fn window(v: &mut Violations, field: &str, p: &common::Period) -> Option<(NaiveDate, Option<NaiveDate>)> {
    let start = match &p.start {
        None => {
            v.add(format!("{field}.start"), "required");
            None
        }
        Some(d) => v.check(&format!("{field}.start"), convert::date(d)),
    };
    let end = p.end.as_ref().and_then(|d| v.check(&format!("{field}.end"), convert::date(d)));
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        v.add(format!("{field}.end"), "must not be before the start");
    }
    start.map(|s| (s, end))
}

/// Ties a page token to the filter (and the caller) it was issued for.
fn fingerprint(filter: &ListFilter, caller: &Caller) -> String {
    let mut h = Sha256::new();
    h.update(format!("{filter:?}|{}|{}", caller.role.as_str(), caller.subject));
    hex::encode(&h.finalize()[..8])
}

/// Longest page token: a u64 offset (at most 20 digits), a dot and 16 hex digits, rounded up.
const MAX_PAGE_TOKEN: usize = 40;
/// Longest order_by: the two values and some spaces around them.
const MAX_ORDER_BY: usize = 32;

fn parse_token(token: &str, fingerprint: &str) -> Option<u64> {
    let (offset, fp) = token.split_once('.')?;
    (fp == fingerprint).then_some(())?;
    offset.parse().ok()
}
