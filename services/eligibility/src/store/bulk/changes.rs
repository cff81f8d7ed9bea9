//! The stored persons of a chunk that its rows change: what differs ([`change_of`], no I/O) and
//! the differences applied set-based — one statement for all the chunk's person updates and one
//! for all its voided records on PostgreSQL, whatever the number of changed persons. An import
//! that changes nearly every person (the annual re-determination of the co-payment ratio each
//! August) ran one `UPDATE` a person and one a voided record in the chunk's transaction: about
//! 1,000 persons a second (loadtest/README.md#import-under-load).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use super::ImportPerson;
use crate::domain::allowances::{AllowanceUse, UseFacts, import_changes};
use crate::domain::{Period, Record};
use crate::key::PersonKey;
use crate::store::{VOIDED, person};

/// What a row changes of one stored person.
#[derive(Debug)]
pub(super) struct Change<'a> {
    /// Whose.
    pub key: PersonKey,
    /// The stored person's id.
    pub id: i64,
    /// The person row as the extract states it (written whether or not it differs: the
    /// version rises either way).
    pub person: &'a person::Model,
    /// Active records the extract no longer states: voided (kept in history).
    pub voided: Vec<i64>,
    /// Periods the extract states that no active record holds: inserted.
    pub added: Vec<&'a Period>,
    /// Allowance uses added or corrected ([`import_changes`]).
    pub uses: Vec<(Option<i64>, &'a UseFacts)>,
}

/// What `row` changes of the stored person (`stored`, their active `records` and allowance
/// `uses`); `None` when it changes nothing.
pub(super) fn change_of<'a>(
    row: &'a ImportPerson,
    stored: &person::Model,
    records: &[Record],
    uses: &[AllowanceUse],
) -> Option<Change<'a>> {
    let holds = |r: &Record, (start, end, detail): &Period| r.start == *start && r.end == *end && &r.detail == detail;
    let uses = import_changes(uses, &row.uses);
    let same_periods =
        records.len() == row.periods.len() && row.periods.iter().all(|p| records.iter().any(|r| holds(r, p)));
    if same_person(stored, &row.person) && same_periods && uses.is_empty() {
        return None;
    }
    Some(Change {
        key: row.key,
        id: stored.id,
        person: &row.person,
        voided: records.iter().filter(|r| !row.periods.iter().any(|p| holds(r, p))).map(|r| r.id).collect(),
        added: row.periods.iter().filter(|p| !records.iter().any(|r| holds(r, p))).collect(),
        uses,
    })
}

fn same_person(a: &person::Model, b: &person::Model) -> bool {
    a.name_kanji == b.name_kanji
        && a.name_kana == b.name_kana
        && a.birth_date == b.birth_date
        && a.sex == b.sex
        && a.category == b.category
        && a.acquired_date == b.acquired_date
        && a.lost_date == b.lost_date
        && a.card_issued_date == b.card_issued_date
}

/// A person's columns as the JSON the bulk statements read.
#[derive(serde::Serialize)]
pub(super) struct PersonColumns<'a> {
    kanji: &'a str,
    kana: &'a str,
    birth: Option<chrono::NaiveDate>,
    sex: i16,
    category: i16,
    acquired: Option<chrono::NaiveDate>,
    lost: Option<chrono::NaiveDate>,
    issued: Option<chrono::NaiveDate>,
}

impl<'a> PersonColumns<'a> {
    pub(super) fn of(p: &'a person::Model) -> Self {
        Self {
            kanji: &p.name_kanji,
            kana: &p.name_kana,
            birth: p.birth_date,
            sex: p.sex,
            category: p.category,
            acquired: p.acquired_date,
            lost: p.lost_date,
            issued: p.card_issued_date,
        }
    }
}

/// A person's columns from `name_kanji` to `card_issued_date`, bound one by one (SQLite).
pub(super) fn person_values(p: &person::Model) -> [Value; 8] {
    [
        p.name_kanji.clone().into(),
        p.name_kana.clone().into(),
        p.birth_date.into(),
        p.sex.into(),
        p.category.into(),
        p.acquired_date.into(),
        p.lost_date.into(),
        p.card_issued_date.into(),
    ]
}

/// A changed person as one element of the JSON array [`UPDATE_PERSONS_PG`] reads.
#[derive(serde::Serialize)]
struct UpdatedPersonRow<'a> {
    id: i64,
    #[serde(flatten)]
    columns: PersonColumns<'a>,
}

/// The chunk's changed persons from a JSON array (`$1`), stamped `$2`, each one version up; the
/// new versions returned with the ids.
const UPDATE_PERSONS_PG: &str = "UPDATE persons p SET name_kanji = x.kanji, name_kana = x.kana, \
     birth_date = x.birth, sex = x.sex, category = x.category, acquired_date = x.acquired, lost_date = x.lost, \
     card_issued_date = x.issued, version = p.version + 1, updated_at = $2 \
     FROM json_to_recordset($1::json) AS x(id bigint, kanji text, kana text, birth date, sex smallint, \
       category smallint, acquired date, lost date, issued date) \
     WHERE p.id = x.id RETURNING p.id, p.version";

const UPDATE_PERSON: &str = "UPDATE persons SET name_kanji=?, name_kana=?, birth_date=?, sex=?, category=?, \
     acquired_date=?, lost_date=?, card_issued_date=?, version=version+1, updated_at=? WHERE id=? RETURNING version";

/// Writes the persons of `changes` and returns the version each now has, in `changes`' order:
/// the version the update gave is the one the person's event announces (a concurrent write may
/// have bumped it since the comparison read the row).
pub(super) async fn update_persons(
    conn: &impl ConnectionTrait,
    postgres: bool,
    changes: &[Change<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    if postgres {
        let rows: Vec<UpdatedPersonRow<'_>> =
            changes.iter().map(|c| UpdatedPersonRow { id: c.id, columns: PersonColumns::of(c.person) }).collect();
        let json = serde_json::to_string(&rows).map_err(|e| DbErr::Custom(e.to_string()))?;
        let returned = conn
            .query_all_raw(Statement::from_sql_and_values(backend, UPDATE_PERSONS_PG, [json.into(), now.into()]))
            .await?;
        let mut versions: HashMap<i64, i64> = HashMap::with_capacity(returned.len());
        for row in returned {
            versions.insert(row.try_get("", "id")?, row.try_get("", "version")?);
        }
        // A person deleted since the comparison read them is not updated: the chunk fails whole.
        return changes.iter().map(|c| versions.get(&c.id).copied().ok_or(DbErr::RecordNotUpdated)).collect();
    }
    let mut versions = Vec::with_capacity(changes.len());
    for change in changes {
        let mut values: Vec<Value> = person_values(change.person).into();
        values.extend([now.into(), change.id.into()]);
        let updated = conn.query_one_raw(Statement::from_sql_and_values(backend, UPDATE_PERSON, values)).await?;
        versions.push(updated.ok_or(DbErr::RecordNotUpdated)?.try_get("", "version")?);
    }
    Ok(versions)
}

/// Voids the records `ids` (kept in history): one statement on PostgreSQL, and one per few
/// hundred elsewhere (SQLite's bound parameters).
pub(super) async fn void_records(conn: &impl ConnectionTrait, postgres: bool, ids: &[i64]) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    if postgres {
        if !ids.is_empty() {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            conn.execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE records SET state = $1 WHERE id = ANY(string_to_array($2, ',')::bigint[])",
                [VOIDED.into(), list.join(",").into()],
            ))
            .await?;
        }
        return Ok(());
    }
    for part in ids.chunks(500) {
        let sql = format!("UPDATE records SET state = ? WHERE id IN ({})", vec!["?"; part.len()].join(", "));
        let values: Vec<Value> = std::iter::once(VOIDED.into()).chain(part.iter().map(|&id| id.into())).collect();
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Utc};
    use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

    use super::{ImportPerson, change_of};
    use crate::domain::allowances::{AllowanceUse, UseFacts};
    use crate::domain::{Detail, Record};
    use crate::key::PersonKey;
    use crate::store::person;

    fn date(m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, m, 1).unwrap()
    }

    fn stored() -> person::Model {
        person::Model {
            id: 42,
            insurer_number: "435073".to_owned(),
            insured_number: "0000000001".to_owned(),
            name_kanji: "試験 太郎".to_owned(),
            name_kana: "シケン タロウ".to_owned(),
            birth_date: NaiveDate::from_ymd_opt(1940, 1, 1),
            sex: 1,
            category: 1,
            acquired_date: Some(date(4)),
            lost_date: None,
            card_issued_date: None,
            version: 3,
            updated_at: Utc::now(),
        }
    }

    fn record(id: i64, start: NaiveDate, tenths: u8) -> Record {
        Record { id, start, end: None, detail: Detail::Copayment { tenths } }
    }

    fn row(periods: Vec<(NaiveDate, u8)>) -> ImportPerson {
        ImportPerson {
            key: PersonKey::new(&InsurerNumber::parse("435073").unwrap(), &InsuredNumber::parse("0000000001").unwrap()),
            person: stored(),
            periods: periods.into_iter().map(|(start, tenths)| (start, None, Detail::Copayment { tenths })).collect(),
            uses: Vec::new(),
        }
    }

    #[test]
    fn the_same_person_and_periods_in_any_order_change_nothing() {
        let records = [record(7, date(4), 1), record(8, date(8), 2)];
        assert!(change_of(&row(vec![(date(8), 2), (date(4), 1)]), &stored(), &records, &[]).is_none());
    }

    #[test]
    fn a_period_no_longer_stated_is_voided_and_a_new_one_added_and_the_rest_kept() {
        // The August re-determination: April's ratio kept, August's 2 割 becomes 3 割.
        let records = [record(7, date(4), 1), record(8, date(8), 2)];
        let wanted = row(vec![(date(4), 1), (date(8), 3)]);
        let change = change_of(&wanted, &stored(), &records, &[]).unwrap();
        assert_eq!((change.id, change.voided.as_slice()), (42, [8].as_slice()));
        assert_eq!(change.added, vec![&(date(8), None, Detail::Copayment { tenths: 3 })]);
        assert!(change.uses.is_empty());
    }

    #[test]
    fn a_changed_person_row_alone_is_a_change_without_record_work() {
        let mut wanted = row(vec![(date(4), 1)]);
        wanted.person.lost_date = Some(date(9));
        let change = change_of(&wanted, &stored(), &[record(7, date(4), 1)], &[]).unwrap();
        assert!(change.voided.is_empty() && change.added.is_empty());
        assert_eq!(change.person.lost_date, Some(date(9)));
    }

    #[test]
    fn one_extra_stored_period_is_voided() {
        let records = [record(7, date(4), 1), record(8, date(8), 2)];
        let wanted = row(vec![(date(4), 1)]);
        let change = change_of(&wanted, &stored(), &records, &[]).unwrap();
        assert_eq!((change.voided.as_slice(), change.added.len()), ([8].as_slice(), 0));
    }

    #[test]
    fn a_new_or_corrected_allowance_use_is_a_change_and_an_equal_one_is_not() {
        let facts = |cost_yen: i64| UseFacts {
            kind: crate::domain::allowances::UseKind::HomeModification,
            reference: "R-1".to_owned(),
            receipt: date(5),
            cost_yen,
            dwelling: "D-1".to_owned(),
            description: String::new(),
        };
        let records = [record(7, date(4), 1)];
        let stored_uses = [AllowanceUse { id: 9, facts: facts(100_000) }];
        let (same, corrected) = (vec![facts(100_000)], vec![facts(120_000)]);
        let mut wanted = row(vec![(date(4), 1)]);
        wanted.uses = same;
        assert!(change_of(&wanted, &stored(), &records, &stored_uses).is_none());
        wanted.uses = corrected;
        let change = change_of(&wanted, &stored(), &records, &stored_uses).unwrap();
        assert_eq!(change.uses.len(), 1);
        assert_eq!(change.uses[0].0, Some(9));
        assert!(change.voided.is_empty() && change.added.is_empty());
    }
}
