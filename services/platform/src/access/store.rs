//! Reading and writing the copy tables: the only SQL of this module. Written for PostgreSQL
//! and SQLite alike (`kaigo dev`).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_access::{Category, Consent, Grantee, OrganizationKind, Registration};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, Value};

use super::{Facts, Person, PersonRef};

/// A registration as the copy keeps it (one row per registration id, its newest version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRow {
    /// The registry's id.
    pub id: String,
    /// The registry's version; a row is replaced only by a higher one.
    pub version: i64,
    /// Whose.
    pub person: Person,
    /// The registered organisation's kind.
    pub kind: OrganizationKind,
    /// Its number.
    pub organization: String,
    /// First day it counts (JST).
    pub start: NaiveDate,
    /// The day it ended (JST), if it did.
    pub end: Option<NaiveDate>,
}

/// A consent as the copy keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    /// The registry's id.
    pub id: String,
    /// The registry's version.
    pub version: i64,
    /// Whose.
    pub person: Person,
    /// To whom.
    pub grantee: Grantee,
    /// Which categories.
    pub categories: BTreeSet<Category>,
    /// First day valid (JST).
    pub valid_from: NaiveDate,
    /// Last day valid (JST, inclusive).
    pub valid_until: Option<NaiveDate>,
    /// The day it was withdrawn (JST).
    pub withdrawn_on: Option<NaiveDate>,
}

/// An identity link as the copy keeps it: the opaque link id (an `insured_person` caller's
/// token subject) bound to a person (docs/domain/access.md#own-view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLinkRow {
    /// The link id (1–64 lower-case hex digits).
    pub id: String,
    /// The registry's version of the link.
    pub version: i64,
    /// Whose.
    pub person: Person,
    /// Revoked: binds nobody.
    pub revoked: bool,
}

/// `$n` for PostgreSQL, `?` for SQLite.
fn placeholder(postgres: bool, n: usize) -> String {
    if postgres { format!("${n}") } else { "?".to_owned() }
}

fn placeholders(postgres: bool, from: usize, count: usize) -> String {
    (from..from + count).map(|n| placeholder(postgres, n)).collect::<Vec<_>>().join(", ")
}

/// Stores `row` unless the copy already holds this or a newer version of it. Returns whether
/// it was stored (an older or repeated version is not).
pub async fn apply_registration(
    conn: &impl ConnectionTrait,
    row: &RegistrationRow,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let pg = crate::db::is_postgres(conn);
    let sql = format!(
        "INSERT INTO access_registrations (registration_id, version, insurer_number, insured_number, org_kind, \
         org_number, start_date, end_date, updated_at) VALUES ({}) \
         ON CONFLICT (registration_id) DO UPDATE SET version = excluded.version, \
         insurer_number = excluded.insurer_number, insured_number = excluded.insured_number, \
         org_kind = excluded.org_kind, org_number = excluded.org_number, start_date = excluded.start_date, \
         end_date = excluded.end_date, updated_at = excluded.updated_at \
         WHERE access_registrations.version < excluded.version",
        placeholders(pg, 1, 9)
    );
    let values: Vec<Value> = vec![
        row.id.clone().into(),
        row.version.into(),
        row.person.insurer.clone().into(),
        row.person.insured.clone().into(),
        row.kind.as_str().into(),
        row.organization.clone().into(),
        row.start.into(),
        row.end.into(),
        now.into(),
    ];
    let done = conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    Ok(done.rows_affected() > 0)
}

/// Stores `row` unless the copy already holds this or a newer version of it.
pub async fn apply_consent(conn: &impl ConnectionTrait, row: &ConsentRow, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let pg = crate::db::is_postgres(conn);
    let sql = format!(
        "INSERT INTO access_consents (consent_id, version, insurer_number, insured_number, grantee_kind, \
         grantee_number, categories, valid_from, valid_until, withdrawn_on, updated_at) VALUES ({}) \
         ON CONFLICT (consent_id) DO UPDATE SET version = excluded.version, \
         insurer_number = excluded.insurer_number, insured_number = excluded.insured_number, \
         grantee_kind = excluded.grantee_kind, grantee_number = excluded.grantee_number, \
         categories = excluded.categories, valid_from = excluded.valid_from, valid_until = excluded.valid_until, \
         withdrawn_on = excluded.withdrawn_on, updated_at = excluded.updated_at \
         WHERE access_consents.version < excluded.version",
        placeholders(pg, 1, 11)
    );
    let (kind, number) = match &row.grantee {
        Grantee::Organization(number) => (None, Some(number.clone())),
        Grantee::Kind(kind) => (Some(*kind), None),
    };
    // A consent to one organisation keeps the organisation's kind unknown here: the decision
    // matches it by number alone (kaigo_access::Consent::covers).
    let kind = kind.map_or("organization", OrganizationKind::as_str);
    let categories = row.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",");
    let values: Vec<Value> = vec![
        row.id.clone().into(),
        row.version.into(),
        row.person.insurer.clone().into(),
        row.person.insured.clone().into(),
        kind.into(),
        number.into(),
        categories.into(),
        row.valid_from.into(),
        row.valid_until.into(),
        row.withdrawn_on.into(),
        now.into(),
    ];
    let done = conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    Ok(done.rows_affected() > 0)
}

/// Stores `row` unless the copy already holds this or a newer version of the link.
pub async fn apply_identity_link(
    conn: &impl ConnectionTrait,
    row: &IdentityLinkRow,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let pg = crate::db::is_postgres(conn);
    let sql = format!(
        "INSERT INTO access_identity_links (link_id, version, insurer_number, insured_number, revoked, updated_at) \
         VALUES ({}) ON CONFLICT (link_id) DO UPDATE SET version = excluded.version, \
         insurer_number = excluded.insurer_number, insured_number = excluded.insured_number, \
         revoked = excluded.revoked, updated_at = excluded.updated_at \
         WHERE access_identity_links.version < excluded.version",
        placeholders(pg, 1, 6)
    );
    let values: Vec<Value> = vec![
        row.id.clone().into(),
        row.version.into(),
        row.person.insurer.clone().into(),
        row.person.insured.clone().into(),
        row.revoked.into(),
        now.into(),
    ];
    let done = conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    Ok(done.rows_affected() > 0)
}

/// The stored version of an identity link.
pub async fn identity_link_version(conn: &impl ConnectionTrait, id: &str) -> Result<Option<i64>, DbErr> {
    version_of(conn, "access_identity_links", "link_id", id).await
}

/// The stored version of a registration (for tests and the testkit's wait).
pub async fn registration_version(conn: &impl ConnectionTrait, id: &str) -> Result<Option<i64>, DbErr> {
    version_of(conn, "access_registrations", "registration_id", id).await
}

/// The stored version of a consent.
pub async fn consent_version(conn: &impl ConnectionTrait, id: &str) -> Result<Option<i64>, DbErr> {
    version_of(conn, "access_consents", "consent_id", id).await
}

async fn version_of(conn: &impl ConnectionTrait, table: &str, column: &str, id: &str) -> Result<Option<i64>, DbErr> {
    let sql = format!("SELECT version FROM {table} WHERE {column} = {}", placeholder(crate::db::is_postgres(conn), 1));
    let row = conn.query_one_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, [id.into()])).await?;
    row.map(|r| r.try_get::<i64>("", "version")).transpose()
}

/// The facts of one person.
pub async fn load(conn: &impl ConnectionTrait, person: PersonRef<'_>) -> Result<Facts, DbErr> {
    let mut all = load_many(conn, &[person]).await?;
    Ok(all.remove(&Person::from(person)).unwrap_or_default())
}

/// The facts of several persons, three queries whatever their number (registrations, then
/// consents, identity links; one statement on PostgreSQL, so its facts and their
/// [`Facts::stamp`] are of one moment); a person without any row is absent from the map (no
/// facts: [`Facts::default`]).
pub async fn load_many(
    conn: &impl ConnectionTrait,
    persons: &[PersonRef<'_>],
) -> Result<HashMap<Person, Facts>, DbErr> {
    let mut out: HashMap<Person, Facts> = HashMap::new();
    if persons.is_empty() {
        return Ok(out);
    }
    let pg = crate::db::is_postgres(conn);
    let backend = conn.get_database_backend();
    let mut pairs = Vec::with_capacity(persons.len());
    let mut values: Vec<Value> = Vec::with_capacity(persons.len() * 2);
    for (i, p) in persons.iter().enumerate() {
        pairs.push(format!("({}, {})", placeholder(pg, 2 * i + 1), placeholder(pg, 2 * i + 2)));
        values.push(p.insurer.into());
        values.push(p.insured.into());
    }
    let filter = format!("(insurer_number, insured_number) IN ({})", pairs.join(", "));
    if pg {
        return load_many_in_one(conn, &filter, values, out).await;
    }
    let sql = format!(
        "SELECT insurer_number, insured_number, org_kind, org_number, start_date, end_date, version \
         FROM access_registrations WHERE {filter}"
    );
    for row in conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values.clone())).await? {
        let (person, registration) = registration_of(&row)?;
        let facts = counted(&mut out, person, &row)?;
        facts.registrations.extend(registration);
    }
    let sql = format!(
        "SELECT insurer_number, insured_number, grantee_kind, grantee_number, categories, valid_from, \
         valid_until, withdrawn_on, version FROM access_consents WHERE {filter}"
    );
    for row in conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values.clone())).await? {
        let (person, consent) = consent_of(&row)?;
        let facts = counted(&mut out, person, &row)?;
        facts.consents.extend(consent);
    }
    // Every link, revoked ones too (their versions count in the stamp), though only the ones
    // that bind are facts: a revoked one is as if absent.
    let sql = format!(
        "SELECT insurer_number, insured_number, link_id, revoked, version FROM access_identity_links \
         WHERE {filter} ORDER BY link_id"
    );
    for row in conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await? {
        let person = person_of(&row)?;
        let revoked: bool = row.try_get("", "revoked")?;
        let facts = counted(&mut out, person, &row)?;
        if !revoked {
            facts.links.push(row.try_get("", "link_id")?);
        }
    }
    Ok(out)
}

/// The facts of `person` in `out`, with the version of `row` (one of the person's rows) added
/// to their [`Facts::stamp`].
fn counted<'a>(out: &'a mut HashMap<Person, Facts>, person: Person, row: &QueryResult) -> Result<&'a mut Facts, DbErr> {
    let version: i64 = row.try_get("", "version")?;
    let facts = out.entry(person).or_default();
    facts.stamp += version;
    Ok(facts)
}

/// [`load_many`] on PostgreSQL: the registrations, consents and links in one statement (one
/// round trip on a cache miss instead of three; the person's parameters are used by each
/// part). Each part fills its own columns; `src` says which part a row comes from.
async fn load_many_in_one(
    conn: &impl ConnectionTrait,
    filter: &str,
    values: Vec<Value>,
    mut out: HashMap<Person, Facts>,
) -> Result<HashMap<Person, Facts>, DbErr> {
    let sql = format!(
        "SELECT 'r' AS src, insurer_number::text AS insurer_number, insured_number::text AS insured_number, \
         version, org_kind::text AS org_kind, org_number::text AS org_number, start_date, end_date, \
         NULL::text AS grantee_kind, NULL::text AS grantee_number, NULL::text AS categories, \
         NULL::date AS valid_from, NULL::date AS valid_until, NULL::date AS withdrawn_on, NULL::text AS link_id, \
         NULL::boolean AS revoked \
         FROM access_registrations WHERE {filter} \
         UNION ALL SELECT 'c', insurer_number::text, insured_number::text, version, NULL::text, NULL::text, \
         NULL::date, NULL::date, grantee_kind::text, grantee_number::text, categories::text, valid_from, \
         valid_until, withdrawn_on, NULL::text, NULL::boolean FROM access_consents WHERE {filter} \
         UNION ALL SELECT 'l', insurer_number::text, insured_number::text, version, NULL::text, NULL::text, \
         NULL::date, NULL::date, NULL::text, NULL::text, NULL::text, NULL::date, NULL::date, NULL::date, \
         link_id::text, revoked FROM access_identity_links WHERE {filter} \
         ORDER BY src, link_id"
    );
    let backend = conn.get_database_backend();
    for row in conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await? {
        let src: String = row.try_get("", "src")?;
        match src.as_str() {
            "r" => {
                let (person, registration) = registration_of(&row)?;
                counted(&mut out, person, &row)?.registrations.extend(registration);
            }
            "c" => {
                let (person, consent) = consent_of(&row)?;
                counted(&mut out, person, &row)?.consents.extend(consent);
            }
            _ => {
                let person = person_of(&row)?;
                let revoked: bool = row.try_get("", "revoked")?;
                let facts = counted(&mut out, person, &row)?;
                if !revoked {
                    facts.links.push(row.try_get("", "link_id")?);
                }
            }
        }
    }
    Ok(out)
}

/// The persons `organization` (a 事業所番号 or 医療機関コード, of any kind) holds a registration
/// for that has not ended by `date`: the candidates a list of "my persons" decides on, one by
/// one, with their facts (the decision, not this query, says what the caller may see).
pub async fn registered_persons(
    conn: &impl ConnectionTrait,
    organization: &str,
    date: NaiveDate,
) -> Result<Vec<Person>, DbErr> {
    let pg = crate::db::is_postgres(conn);
    let sql = format!(
        "SELECT DISTINCT insurer_number, insured_number FROM access_registrations \
         WHERE org_number = {} AND (end_date IS NULL OR end_date > {}) ORDER BY insurer_number, insured_number",
        placeholder(pg, 1),
        placeholder(pg, 2)
    );
    let values: Vec<Value> = vec![organization.into(), date.into()];
    let rows = conn.query_all_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    rows.iter().map(person_of).collect()
}

/// The persons the identity `link_id` (an `insured_person` caller's token subject) binds,
/// unrevoked: the candidates of a person's own lists, each then decided on its facts
/// (docs/domain/access.md#own-view). At most one in practice.
pub async fn linked_persons(conn: &impl ConnectionTrait, link_id: &str) -> Result<Vec<Person>, DbErr> {
    let pg = crate::db::is_postgres(conn);
    let sql = format!(
        "SELECT insurer_number, insured_number FROM access_identity_links WHERE link_id = {} AND revoked = {}",
        placeholder(pg, 1),
        placeholder(pg, 2)
    );
    let values: Vec<Value> = vec![link_id.into(), false.into()];
    let rows = conn.query_all_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await?;
    rows.iter().map(person_of).collect()
}

fn person_of(row: &QueryResult) -> Result<Person, DbErr> {
    Ok(Person { insurer: row.try_get("", "insurer_number")?, insured: row.try_get("", "insured_number")? })
}

/// A stored row; `None` for a kind this build does not know (grants nothing).
fn registration_of(row: &QueryResult) -> Result<(Person, Option<Registration>), DbErr> {
    let person = person_of(row)?;
    let kind: String = row.try_get("", "org_kind")?;
    let Ok(kind) = kind.parse::<OrganizationKind>() else { return Ok((person, None)) };
    let registration = Registration {
        organization: row.try_get("", "org_number")?,
        kind,
        start: row.try_get("", "start_date")?,
        end: row.try_get("", "end_date")?,
    };
    Ok((person, Some(registration)))
}

/// A stored row; `None` when it names nothing this build knows (grants nothing).
fn consent_of(row: &QueryResult) -> Result<(Person, Option<Consent>), DbErr> {
    let person = person_of(row)?;
    let kind: String = row.try_get("", "grantee_kind")?;
    let number: Option<String> = row.try_get("", "grantee_number")?;
    let grantee = match (number, kind.parse::<OrganizationKind>()) {
        (Some(number), _) => Grantee::Organization(number),
        (None, Ok(kind)) => Grantee::Kind(kind),
        (None, Err(_)) => return Ok((person, None)),
    };
    let categories: String = row.try_get("", "categories")?;
    // An unknown category name (a newer registry) grants nothing here.
    let categories: BTreeSet<Category> = categories.split(',').filter_map(|c| c.parse().ok()).collect();
    let consent = Consent {
        grantee,
        categories,
        valid_from: row.try_get("", "valid_from")?,
        valid_until: row.try_get("", "valid_until")?,
        withdrawn_on: row.try_get("", "withdrawn_on")?,
    };
    Ok((person, Some(consent)))
}
