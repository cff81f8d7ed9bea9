//! Read queries: lists with the overdue / at-risk filters, and the rows behind the statistics.

use chrono::{Days, NaiveDate};
use kaigo_platform::errors::{self, ApiError};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::{application, delay_notice};
use super::rows;
use crate::domain::deadline::{DEADLINE_DAYS, DeadlineFacts, DeadlineStatus, deadline_date, stored_facts};
use crate::domain::record::ApplicationRecord;
use crate::domain::types::Status;

/// Sort orders of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListOrder {
    /// Newest application first (default).
    ApplicationDateDesc,
    /// Earliest (effective) deadline first: overdue, then at risk, then the rest.
    Urgency,
}

/// What a list asks for (already authorised: an insurer's filter carries its number).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListFilter {
    /// Only this insurer.
    pub insurer_number: Option<String>,
    /// Only this acting office.
    pub acting_office_number: Option<String>,
    /// Only this person.
    pub insured_number: Option<String>,
    /// Only these persons (保険者番号, 被保険者番号): an organisation's, as the access decision
    /// found them (none: nothing).
    pub persons: Option<Vec<(String, String)>>,
    /// Only these statuses (empty = all).
    pub statuses: Vec<Status>,
    /// Only these deadline standings (empty = all).
    pub deadline_statuses: Vec<DeadlineStatus>,
    /// Application dates within (inclusive).
    pub window: Option<(NaiveDate, Option<NaiveDate>)>,
    /// Order.
    pub order: ListOrder,
    /// Today (JST) for the deadline standings.
    pub today: NaiveDate,
    /// The at-risk day.
    pub at_risk_day: u32,
}

fn open_statuses() -> Vec<&'static str> {
    Status::OPEN.map(Status::as_str).to_vec()
}

/// The SQL condition for one deadline standing on `today`.
fn deadline_condition(status: DeadlineStatus, today: NaiveDate, at_risk_day: u32) -> Condition {
    use application::Column as C;
    // The same lines as domain::deadline::deadline_status: at risk from `at_risk_day` days after
    // the application and no earlier than 30 - at_risk_day days before on_time_until.
    let risk_from = today.checked_sub_days(Days::new(u64::from(at_risk_day))).unwrap_or(NaiveDate::MIN);
    let margin = DEADLINE_DAYS.saturating_sub(u64::from(at_risk_day));
    let near_end = today.checked_add_days(Days::new(margin)).unwrap_or(NaiveDate::MAX);
    let open = C::Status.is_in(open_statuses());
    let decided = C::Status.is_in([Status::Decided.as_str(), Status::Notified.as_str()]);
    let at_risk = || Condition::all().add(C::ApplicationDate.lte(risk_from)).add(C::OnTimeUntil.lte(near_end));
    match status {
        DeadlineStatus::Overdue => Condition::all().add(open).add(C::EffectiveDeadline.lt(today)),
        DeadlineStatus::AtRisk => Condition::all().add(open).add(C::EffectiveDeadline.gte(today)).add(at_risk()),
        DeadlineStatus::OnTrack => Condition::all().add(open).add(C::EffectiveDeadline.gte(today)).add(at_risk().not()),
        DeadlineStatus::Met => {
            Condition::all().add(decided).add(Expr::col(C::DecisionDate).lte(Expr::col(C::OnTimeUntil)))
        }
        DeadlineStatus::Missed => {
            Condition::all().add(decided).add(Expr::col(C::DecisionDate).gt(Expr::col(C::OnTimeUntil)))
        }
        DeadlineStatus::NotApplicable => {
            Condition::all().add(C::Status.is_in([Status::Withdrawn.as_str(), Status::Cancelled.as_str()]))
        }
    }
}

fn condition(filter: &ListFilter) -> Condition {
    use application::Column as C;
    let mut cond = Condition::all();
    if let Some(insurer) = &filter.insurer_number {
        cond = cond.add(C::InsurerNumber.eq(insurer));
    }
    if let Some(office) = &filter.acting_office_number {
        cond = cond.add(C::ActingOfficeNumber.eq(office));
    }
    if let Some(insured) = &filter.insured_number {
        cond = cond.add(C::InsuredNumber.eq(insured));
    }
    if let Some(persons) = &filter.persons {
        if persons.is_empty() {
            cond = cond.add(Expr::val(1).eq(0));
        } else {
            let any = persons.iter().fold(Condition::any(), |any, (insurer, insured)| {
                any.add(Condition::all().add(C::InsurerNumber.eq(insurer)).add(C::InsuredNumber.eq(insured)))
            });
            cond = cond.add(any);
        }
    }
    if !filter.statuses.is_empty() {
        cond = cond.add(C::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if !filter.deadline_statuses.is_empty() {
        let any = filter
            .deadline_statuses
            .iter()
            .fold(Condition::any(), |any, s| any.add(deadline_condition(*s, filter.today, filter.at_risk_day)));
        cond = cond.add(any);
    }
    if let Some((start, end)) = filter.window {
        cond = cond.add(C::ApplicationDate.gte(start));
        if let Some(end) = end {
            cond = cond.add(C::ApplicationDate.lte(end));
        }
    }
    cond
}

/// What the statistics are computed from.
#[derive(Debug, Clone, Default)]
pub struct StatisticsRows {
    /// (status, application date, decision date, effective deadline, on-time-until) per
    /// application.
    pub applications: Vec<(Status, NaiveDate, Option<NaiveDate>, NaiveDate, NaiveDate)>,
    /// Delay notices issued for them.
    pub delay_notices: u64,
}

/// One page of applications (records without steps) and the total matching.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &ListFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<ApplicationRecord>, u64), ApiError> {
    use application::Column as C;
    let base = application::Entity::find().filter(condition(filter));
    let total = base.clone().count(conn).await.map_err(errors::db)?;
    let ordered = match filter.order {
        ListOrder::ApplicationDateDesc => base.order_by_desc(C::ApplicationDate).order_by_asc(C::Id),
        ListOrder::Urgency => {
            base.order_by_asc(C::EffectiveDeadline).order_by_asc(C::ApplicationDate).order_by_asc(C::Id)
        }
    };
    let rows = ordered.offset(offset).limit(limit).all(conn).await.map_err(errors::db)?;
    let records = rows.iter().map(rows::record_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok((records, total))
}

/// The rows behind one insurer's figures for applications dated in `window`.
pub async fn statistics_rows(
    conn: &impl ConnectionTrait,
    insurer: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<StatisticsRows, ApiError> {
    use application::Column as C;
    type Row = (String, String, NaiveDate, Option<NaiveDate>, NaiveDate, Option<NaiveDate>);
    let rows: Vec<Row> = application::Entity::find()
        .select_only()
        .column(C::Id)
        .column(C::Status)
        .column(C::ApplicationDate)
        .column(C::DecisionDate)
        .column(C::EffectiveDeadline)
        .column(C::OnTimeUntil)
        .filter(C::InsurerNumber.eq(insurer))
        .filter(C::ApplicationDate.gte(start))
        .filter(C::ApplicationDate.lte(end))
        .into_tuple()
        .all(conn)
        .await
        .map_err(errors::db)?;
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut delay_notices = 0;
    for chunk in ids.chunks(1000) {
        delay_notices += delay_notice::Entity::find()
            .filter(delay_notice::Column::ApplicationId.is_in(chunk.iter().cloned()))
            .count(conn)
            .await
            .map_err(errors::db)?;
    }
    let applications = rows
        .into_iter()
        .filter_map(|(_, status, app, decided, deadline, on_time)| {
            let on_time = on_time.unwrap_or_else(|| deadline_date(app));
            Some((Status::parse(&status)?, app, decided, deadline, on_time))
        })
        .collect();
    Ok(StatisticsRows { applications, delay_notices })
}

/// Every open application's deadline facts, grouped: applications that share their status,
/// application date, effective deadline and on-time day stand alike, so this is one row per
/// such group (a few hundred at most, dates within months of today) with how many share it,
/// however many applications are open.
pub async fn open_deadline_groups(conn: &impl ConnectionTrait) -> Result<Vec<(DeadlineFacts, u64)>, ApiError> {
    use application::Column as C;
    type Row = (String, NaiveDate, NaiveDate, Option<NaiveDate>, i64);
    let rows: Vec<Row> = application::Entity::find()
        .select_only()
        .column(C::Status)
        .column(C::ApplicationDate)
        .column(C::EffectiveDeadline)
        .column(C::OnTimeUntil)
        .column_as(C::Id.count(), "n")
        .filter(C::Status.is_in(Status::OPEN.iter().map(|s| s.as_str())))
        .group_by(C::Status)
        .group_by(C::ApplicationDate)
        .group_by(C::EffectiveDeadline)
        .group_by(C::OnTimeUntil)
        .into_tuple()
        .all(conn)
        .await
        .map_err(errors::db)?;
    Ok(rows
        .into_iter()
        .filter_map(|(status, app, effective, on_time, n)| {
            let on_time = on_time.unwrap_or_else(|| deadline_date(app));
            let facts = stored_facts(Status::parse(&status)?, app, None, effective, on_time);
            Some((facts, u64::try_from(n).unwrap_or_default()))
        })
        .collect())
}
