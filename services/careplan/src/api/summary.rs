//! GetCarePlanSummary: one person's plan (第1表, 第2表) and the services of a month (第6表 予定),
//! read from the units exchanged for the person (docs/domain/careplan-csv.md#summary), for the
//! readers of the person's CARE_PLAN — a medical institution's doctor with the person's consent
//! among them (docs/domain/access.md#in-kaigo). Decided before anything is looked up; every call
//! is audited, allowed or not, with the bundles read.

use chrono::Datelike;
use kaigo_platform::access::{Category, Facts, PersonRef};
use kaigo_platform::audit::{ALLOWED, DENIED, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{ApiError, Violations, db};
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_proto::kaigo::careplan::v1 as pb;
use kaigo_proto::kaigo::common::v1::YearMonth as PbYearMonth;

use super::convert::timestamp;
use super::{Api, file_kind, unit_kind};
use crate::csv::read_file;
use crate::domain::bundle::read_purpose;
use crate::domain::kind::{FormKind, UnitKind};
use crate::domain::model::CarePlanFile;
use crate::domain::summary::{Finder, Plan, Source, Usage};
use crate::domain::values::YearMonth;
use crate::store;

/// Units read per query while looking for the plan and the month.
const PAGE: u64 = 50;

/// May `caller` read CARE_PLAN of `person` today? Insurers (their own insured) and operators
/// are decided on the caller alone; organisations on the person's registrations and consents,
/// the person on the identity links that bind them to the record (docs/domain/access.md#own-view).
pub(crate) async fn decide_care_plan(
    api: &Api,
    caller: &Caller,
    person: PersonRef<'_>,
) -> Result<Result<(), ApiError>, ApiError> {
    let today = api.clock.today_jst();
    Ok(match caller.role {
        Role::Insurer | Role::Operator => api.gate.decide(caller, person, Category::CarePlan, today, &Facts::default()),
        Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution | Role::InsuredPerson => {
            // On the primary: a consent withdrawn a moment ago refuses at once, never after a
            // replica's lag.
            let facts = kaigo_platform::access::load(&api.ctx.db, person).await.map_err(db)?;
            api.gate.decide(caller, person, Category::CarePlan, today, &facts)
        }
    })
}

/// The file kinds a summary reads of a unit of `kind`.
fn wanted_files(kind: UnitKind) -> &'static [FormKind] {
    match kind {
        UnitKind::Plan => &[FormKind::Plan1, FormKind::Plan2],
        UnitKind::PlanDelete => &[FormKind::Plan1Delete],
        UnitKind::UsageTicket => &[FormKind::UsagePlan],
        UnitKind::UsageTicketDelete => &[FormKind::UsagePlanDelete],
        _ => &[],
    }
}

pub(crate) async fn get_care_plan_summary(
    api: &Api,
    caller: &Caller,
    r: pb::GetCarePlanSummaryRequest,
) -> Result<pb::GetCarePlanSummaryResponse, ApiError> {
    let mut v = Violations::new();
    let insurer = v.check("insurer_number", InsurerNumber::parse(&r.insurer_number));
    let insured = v.check("insured_number", InsuredNumber::parse(&r.insured_number));
    let month = match &r.service_month {
        None => {
            let today = api.clock.today_jst();
            YearMonth::new(today.year(), today.month())
        }
        Some(m) => {
            let month = u32::try_from(m.month).ok().and_then(|month| YearMonth::new(m.year, month));
            if month.is_none() {
                v.add("service_month", "a year 1900-9999 and a month 1 to 12 are required");
            }
            month
        }
    };
    let (Some(insurer), Some(insured), Some(month)) = (insurer, insured, month) else {
        return Err(ApiError::invalid_argument(v));
    };
    v.into_result()?;
    let person = PersonRef::new(insurer.as_str(), insured.as_str());
    let read = |outcome, resources: Vec<String>| ReadRecord {
        rpc: "GetCarePlanSummary",
        category: "care_plan",
        purpose: read_purpose(caller.role).as_str_name().to_owned(),
        outcome,
        persons: vec![kaigo_platform::audit::person(insurer.as_str(), insured.as_str())],
        resources,
    };
    if let Err(refused) = decide_care_plan(api, caller, person).await? {
        api.auditor.record(caller, read(DENIED, Vec::new())).await;
        return Err(refused);
    }
    // A replica, unless the caller has a write it has not replayed (the decision above was
    // on the primary's facts).
    let reads = api.reads_for(caller);
    let finder = find(api, &reads, insurer.as_str(), insured.as_str(), month).await?;
    let resources: Vec<String> = [finder.plan.as_ref().map(|p| &p.source), finder.usage.as_ref().map(|u| &u.source)]
        .into_iter()
        .flatten()
        .map(|s| s.bundle_id.clone())
        .collect();
    api.auditor.record(caller, read(ALLOWED, resources)).await;
    let (plan, usage) = (finder.plan, finder.usage);
    Ok(pb::GetCarePlanSummaryResponse {
        summary: Some(pb::CarePlanSummary {
            insurer_number: insurer.as_str().to_owned(),
            insured_number: insured.as_str().to_owned(),
            service_month: Some(PbYearMonth { year: month.year, month: i32::try_from(month.month).unwrap_or(0) }),
            plan: plan.map(plan_pb),
            services: usage.as_ref().map(|u| u.services.iter().map(service_pb).collect()).unwrap_or_default(),
            usage_ticket: usage.map(usage_pb),
        }),
    })
}

/// Walks the person's plan and 予定 units (and their deletions), newest first, until the plan
/// and the month are settled.
async fn find(
    api: &Api,
    conn: &impl sea_orm::ConnectionTrait,
    insurer: &str,
    insured: &str,
    month: YearMonth,
) -> Result<Finder, ApiError> {
    let mut finder = Finder::new(insurer, insured, month);
    let kinds = [pb::SendUnitKind::Plan as i32, pb::SendUnitKind::PlanDelete as i32];
    let monthly = [pb::SendUnitKind::UsageTicket as i32, pb::SendUnitKind::UsageTicketDelete as i32];
    let month_text = month.to_string();
    let mut before: Option<String> = None;
    loop {
        let ids = store::evidence::person_units(
            conn,
            (insurer, insured),
            &kinds,
            &monthly,
            &month_text,
            before.as_deref(),
            PAGE,
        )
        .await
        .map_err(db)?;
        let last_page = (ids.len() as u64) < PAGE;
        for id in &ids {
            let Some(model) = store::get_bundle(conn, id).await.map_err(db)? else { continue };
            let Some(kind) = pb::SendUnitKind::try_from(model.kind).ok().and_then(unit_kind) else { continue };
            if !finder.wants(kind) {
                continue;
            }
            let wanted: Vec<i32> = wanted_files(kind).iter().map(|k| file_kind(*k) as i32).collect();
            let mut contents = Vec::new();
            for meta in store::file_metadata(conn, id).await.map_err(db)? {
                if !wanted.contains(&meta.kind) {
                    continue;
                }
                if let Some(file) = store::file_content(conn, id, meta.position).await.map_err(db)? {
                    contents.push((file.file_name, file.content));
                }
            }
            let spec = std::sync::Arc::clone(&api.spec);
            // Parsing is CPU work: off the async workers. Files that no longer parse (the spec
            // data changed since they were sent) are passed over.
            let files: Vec<CarePlanFile> = tokio::task::spawn_blocking(move || {
                contents.iter().filter_map(|(name, bytes)| read_file(name, bytes, &spec).file).collect()
            })
            .await
            .map_err(ApiError::internal)?;
            let source = Source {
                bundle_id: model.id.clone(),
                sender_office: model.sender_office.clone(),
                sent_at: model.sent_at,
            };
            finder.take(kind, &source, &files);
            if finder.done() {
                return Ok(finder);
            }
        }
        match ids.last() {
            Some(last) if !last_page => before = Some(last.clone()),
            _ => return Ok(finder),
        }
    }
}

fn date_pb(date: chrono::NaiveDate) -> kaigo_proto::google::r#type::Date {
    kaigo_proto::from_naive_date(date)
}

fn text(value: Option<&crate::domain::values::FreeText>) -> String {
    value.map(|t| t.0.clone()).unwrap_or_default()
}

fn number(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn plan_pb(plan: Plan) -> pb::CarePlanOutline {
    let t = &plan.table1;
    pb::CarePlanOutline {
        bundle_id: plan.source.bundle_id.clone(),
        send_time: Some(timestamp(plan.source.sent_at)),
        office_number: t.office_number.as_str().to_owned(),
        office_name: t.office_name.0.clone(),
        planner_name: t.planner_name.0.clone(),
        plan_date: Some(date_pb(t.plan_date.0)),
        first_plan_date: Some(date_pb(t.first_plan_date.0)),
        created_date: Some(date_pb(t.created_on.0)),
        assessment: text(t.assessment.as_ref()),
        board_opinion: text(t.board_opinion.as_ref()),
        policy: text(t.policy.as_ref()),
        needs: plan
            .needs
            .into_iter()
            .map(|n| pb::CareNeed {
                number: number(n.number),
                need: n.text,
                goals: n
                    .goals
                    .into_iter()
                    .map(|g| pb::CareGoal {
                        number: number(g.number),
                        long_term_goal: g.long_term,
                        long_term_period: g.long_term_period,
                        short_term_goal: g.short_term,
                        short_term_period: g.short_term_period,
                        supports: g
                            .supports
                            .into_iter()
                            .map(|s| pb::PlannedSupport {
                                number: number(s.number),
                                service_content: s.content,
                                insurance_covered: s.insurance_covered,
                                service_kind: s.kind,
                                provider_number: s.provider_number,
                                provider_name: s.provider_name,
                                frequency: s.frequency,
                                duration: s.duration,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn service_pb(s: &crate::domain::summary::MonthService) -> pb::MonthService {
    pb::MonthService {
        provider_number: s.provider_number.clone(),
        provider_name: s.provider_name.clone(),
        service_code: s.service_code.clone(),
        start_time: s.start.clone().unwrap_or_default(),
        end_time: s.end.clone().unwrap_or_default(),
        days: s.days.iter().map(|d| number(u64::from(*d))).collect(),
        times: number(s.times),
    }
}

fn usage_pb(u: Usage) -> pb::UsageTicketSource {
    pb::UsageTicketSource {
        bundle_id: u.source.bundle_id,
        send_time: Some(timestamp(u.source.sent_at)),
        office_number: u.plan_office,
        created_date: u.created_on.map(date_pb),
    }
}
