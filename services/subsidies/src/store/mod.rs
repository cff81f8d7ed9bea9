//! The only place with SQL: applications, evidence references, the read audit and the
//! report's aggregation. Everything runs on PostgreSQL (tests, production) and SQLite
//! (`kaigo dev`).

pub mod entities;
pub mod migration;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

pub use entities::{application, application_event, evidence};

/// An application with its evidence.
#[derive(Debug, Clone)]
pub struct Record {
    /// The row.
    pub application: application::Model,
    /// Its evidence, oldest first.
    pub evidence: Vec<evidence::Model>,
}

/// The application with this id, with its evidence.
pub async fn find(conn: &impl ConnectionTrait, id: &str) -> Result<Option<Record>, DbErr> {
    let Some(application) = application::Entity::find_by_id(id.to_owned()).one(conn).await? else {
        return Ok(None);
    };
    let evidence = evidence_of(conn, id).await?;
    Ok(Some(Record { application, evidence }))
}

async fn evidence_of(conn: &impl ConnectionTrait, id: &str) -> Result<Vec<evidence::Model>, DbErr> {
    evidence::Entity::find()
        .filter(evidence::Column::ApplicationId.eq(id))
        .order_by_asc(evidence::Column::AttachedAt)
        .order_by_asc(evidence::Column::AttachmentId)
        .all(conn)
        .await
}

/// The applicant's latest application to a programme (highest attempt), if there is one.
pub async fn latest_by_applicant(
    conn: &impl ConnectionTrait,
    programme_id: &str,
    applicant_number: &str,
) -> Result<Option<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::ProgrammeId.eq(programme_id))
        .filter(application::Column::ApplicantNumber.eq(applicant_number))
        .order_by_desc(application::Column::Attempt)
        .one(conn)
        .await
}

/// Most history entries returned for one application.
pub const MAX_HISTORY: u64 = 1_000;

/// Records one change of an application.
pub async fn insert_event(conn: &impl ConnectionTrait, event: application_event::Model) -> Result<(), DbErr> {
    event.into_active_model().insert(conn).await.map(|_| ())
}

/// The recorded changes of an application, oldest first (at most [`MAX_HISTORY`]).
pub async fn history_of(conn: &impl ConnectionTrait, id: &str) -> Result<Vec<application_event::Model>, DbErr> {
    application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.eq(id))
        .order_by_asc(application_event::Column::Version)
        .limit(MAX_HISTORY)
        .all(conn)
        .await
}

/// Inserts a new application.
pub async fn insert(conn: &impl ConnectionTrait, model: application::Model) -> Result<(), DbErr> {
    model.into_active_model().insert(conn).await.map(|_| ())
}

/// Writes `changed` if the stored version is still `expected_version`; returns whether it was.
/// The version in `changed` must already be `expected_version + 1`.
pub async fn update_if_version(
    conn: &impl ConnectionTrait,
    changed: application::Model,
    expected_version: i64,
) -> Result<bool, DbErr> {
    let id = changed.id.clone();
    let mut active = changed.into_active_model();
    // Every column is written; the id is the key.
    active = active.reset_all();
    active.id = sea_orm::ActiveValue::Unchanged(id.clone());
    let result = application::Entity::update_many()
        .set(active)
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Adds an evidence reference.
pub async fn insert_evidence(conn: &impl ConnectionTrait, model: evidence::Model) -> Result<(), DbErr> {
    model.into_active_model().insert(conn).await.map(|_| ())
}

/// What a listing selects.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only these applicants (an office or institution sees its own); `None` = all.
    pub applicants: Option<Vec<String>>,
    /// Only this programme.
    pub programme_id: Option<String>,
    /// Only these states (stored names).
    pub statuses: Vec<String>,
    /// Only this applicant kind (stored name).
    pub applicant_kind: Option<String>,
    /// Only this prefecture.
    pub prefecture_code: Option<String>,
    /// Only this applicant number.
    pub applicant_number: Option<String>,
}

/// Where a page of [`list`] continues: after this application in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The last listed application's creation time.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Its id.
    pub id: String,
}

/// One page of applications in the listing's order — newest created first, then id
/// descending — after `after` (exclusive); and the count.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &ListFilter,
    after: Option<&After>,
    limit: u64,
) -> Result<(Vec<Record>, u64), DbErr> {
    use application::Column as C;
    let mut query = application::Entity::find();
    if let Some(applicants) = &filter.applicants {
        query = query.filter(C::ApplicantNumber.is_in(applicants.clone()));
    }
    if let Some(p) = &filter.programme_id {
        query = query.filter(C::ProgrammeId.eq(p.clone()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(C::Status.is_in(filter.statuses.clone()));
    }
    if let Some(k) = &filter.applicant_kind {
        query = query.filter(C::ApplicantKind.eq(k.clone()));
    }
    if let Some(p) = &filter.prefecture_code {
        query = query.filter(C::PrefectureCode.eq(p.clone()));
    }
    if let Some(n) = &filter.applicant_number {
        query = query.filter(C::ApplicantNumber.eq(n.clone()));
    }
    let total = query.clone().count(conn).await?;
    if let Some(after) = after {
        query = query.filter(
            sea_orm::Condition::any()
                .add(C::CreatedAt.lt(after.created_at))
                .add(sea_orm::Condition::all().add(C::CreatedAt.eq(after.created_at)).add(C::Id.lt(after.id.clone()))),
        );
    }
    let rows = query.order_by_desc(C::CreatedAt).order_by_desc(C::Id).limit(limit).all(conn).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut evidence: Vec<evidence::Model> = if ids.is_empty() {
        Vec::new()
    } else {
        evidence::Entity::find()
            .filter(evidence::Column::ApplicationId.is_in(ids))
            .order_by_asc(evidence::Column::AttachedAt)
            .order_by_asc(evidence::Column::AttachmentId)
            .all(conn)
            .await?
    };
    let records = rows
        .into_iter()
        .map(|application| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                std::mem::take(&mut evidence).into_iter().partition(|e| e.application_id == application.id);
            evidence = rest;
            Record { application, evidence: mine }
        })
        .collect();
    Ok((records, total))
}

/// One row of the operator report.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct ReportRow {
    pub prefecture_code: String,
    pub applicant_kind: String,
    pub category_key: String,
    pub submitted_count: i64,
    pub approved_count: i64,
    pub approved_amount_yen: i64,
    pub paid_count: i64,
    pub paid_amount_yen: i64,
    pub rejected_count: i64,
}

/// Totals of a programme's submitted applications by prefecture, kind and category key.
pub async fn report(
    conn: &impl ConnectionTrait,
    programme_id: &str,
    prefecture_code: Option<&str>,
) -> Result<Vec<ReportRow>, DbErr> {
    let backend = conn.get_database_backend();
    let p = |n: usize| if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() };
    // SUM over BIGINT is NUMERIC in PostgreSQL: cast back so both databases return integers.
    let mut sql = format!(
        "SELECT prefecture_code, applicant_kind, category_key, \
           CAST(COUNT(*) AS BIGINT) AS submitted_count, \
           CAST(SUM(CASE WHEN status IN ('approved', 'paid') THEN 1 ELSE 0 END) AS BIGINT) AS approved_count, \
           CAST(SUM(CASE WHEN status IN ('approved', 'paid') THEN COALESCE(approved_amount_yen, 0) ELSE 0 END) AS BIGINT) AS approved_amount_yen, \
           CAST(SUM(CASE WHEN status = 'paid' THEN 1 ELSE 0 END) AS BIGINT) AS paid_count, \
           CAST(SUM(CASE WHEN status = 'paid' THEN COALESCE(paid_amount_yen, 0) ELSE 0 END) AS BIGINT) AS paid_amount_yen, \
           CAST(SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS BIGINT) AS rejected_count \
         FROM applications WHERE programme_id = {} AND status <> 'draft'",
        p(1)
    );
    let mut values: Vec<Value> = vec![programme_id.into()];
    if let Some(prefecture) = prefecture_code {
        sql.push_str(&format!(" AND prefecture_code = {}", p(2)));
        values.push(prefecture.into());
    }
    sql.push_str(" GROUP BY prefecture_code, applicant_kind, category_key ORDER BY prefecture_code, applicant_kind, category_key");
    ReportRow::find_by_statement(Statement::from_sql_and_values(backend, sql, values)).all(conn).await
}
