//! Service evidence (docs/domain/access.md#registrations): a 予定 (サービス利用票・提供票) or a
//! 実績 exchanged for a person shows that both offices of the exchange serve the person, which
//! keeps their registrations as the person's 担当 alive. The care-plan service publishes it as
//! `careplan.service_evidence` once per person, office and service month.

use chrono::{Datelike, NaiveDate};

use super::kind::{SenderSide, UnitKind};

/// Which side of the exchange an office is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficeKind {
    /// 居宅介護支援事業所.
    CareOffice,
    /// サービス事業所.
    Provider,
}

/// One piece of evidence: `office` served the person (`insurer`, `insured`) in `month`
/// (`YYYYMM`), observed on `date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// 保険者番号.
    pub insurer: String,
    /// 被保険者番号.
    pub insured: String,
    /// 事業所番号 of the office.
    pub office: String,
    /// Its side of the exchange.
    pub kind: OfficeKind,
    /// The service month, `YYYYMM`.
    pub month: String,
    /// The day of service the registry records: the last day of the service month, or `today`
    /// when the month has not ended (a 予定 is sent before its month: the exchange itself is
    /// the evidence, and the registry takes no evidence dated in the future).
    pub date: NaiveDate,
}

/// The evidence of one exchanged unit: for a 予定 or 実績 (not their deletions, not a care
/// plan), each person of the unit with the sending and the receiving office; nothing
/// otherwise. `sender_side` says which side sends this kind of unit.
pub fn of_unit(
    kind: UnitKind,
    sender_side: SenderSide,
    sender: &str,
    receiver: &str,
    month: Option<&str>,
    persons: &[(String, String)],
    today: NaiveDate,
) -> Vec<Evidence> {
    if !matches!(kind, UnitKind::UsageTicket | UnitKind::Actuals) {
        return Vec::new();
    }
    let Some((month, date)) = month.and_then(|m| Some((m, served_on(m, today)?))) else {
        return Vec::new();
    };
    let (sender_kind, receiver_kind) = match sender_side {
        SenderSide::CareOffice => (OfficeKind::CareOffice, OfficeKind::Provider),
        SenderSide::Provider => (OfficeKind::Provider, OfficeKind::CareOffice),
    };
    let mut out = Vec::with_capacity(persons.len() * 2);
    for (insurer, insured) in persons {
        for (office, kind) in [(sender, sender_kind), (receiver, receiver_kind)] {
            out.push(Evidence {
                insurer: insurer.clone(),
                insured: insured.clone(),
                office: office.to_owned(),
                kind,
                month: month.to_owned(),
                date,
            });
        }
    }
    // Sender and receiver can be one office number (an office running both services).
    out.dedup_by(|a, b| a.insurer == b.insurer && a.insured == b.insured && a.office == b.office);
    out
}

/// The last day of `month` (`YYYYMM`), or `today` when that is later; `None` for a month
/// that is not one.
fn served_on(month: &str, today: NaiveDate) -> Option<NaiveDate> {
    if month.len() != 6 {
        return None;
    }
    let year: i32 = month.get(..4)?.parse().ok()?;
    let m: u32 = month.get(4..)?.parse().ok()?;
    let first = NaiveDate::from_ymd_opt(year, m, 1)?;
    let last = first.checked_add_months(chrono::Months::new(1))?.pred_opt()?;
    Some(last.min(today))
}

/// The first day of the month of `date`, as `YYYYMM` (for tests and messages).
pub fn month_of(date: NaiveDate) -> String {
    format!("{:04}{:02}", date.year(), date.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn persons() -> Vec<(String, String)> {
        vec![("435073".into(), "0000000001".into()), ("435073".into(), "0000000002".into())]
    }

    #[test]
    fn a_usage_ticket_is_evidence_for_both_offices_and_each_person() {
        let e = of_unit(
            UnitKind::UsageTicket,
            SenderSide::CareOffice,
            "4371000128",
            "4371000201",
            Some("202605"),
            &persons(),
            d(2026, 4, 20),
        );
        assert_eq!(e.len(), 4);
        assert!(e.iter().all(|x| x.month == "202605"));
        // Sent before its month: dated the day of the exchange, never in the future.
        assert!(e.iter().all(|x| x.date == d(2026, 4, 20)));
        assert_eq!((e[0].office.as_str(), e[0].kind), ("4371000128", OfficeKind::CareOffice));
        assert_eq!((e[1].office.as_str(), e[1].kind), ("4371000201", OfficeKind::Provider));
    }

    #[test]
    fn actuals_are_dated_the_last_day_of_their_month() {
        let e = of_unit(
            UnitKind::Actuals,
            SenderSide::Provider,
            "4371000201",
            "4371000128",
            Some("202602"),
            &persons()[..1],
            d(2026, 3, 5),
        );
        assert_eq!(e.len(), 2);
        assert!(e.iter().all(|x| x.date == d(2026, 2, 28)));
        assert_eq!(e[0].kind, OfficeKind::Provider);
        assert_eq!(e[1].kind, OfficeKind::CareOffice);
    }

    #[test]
    fn plans_deletions_and_bad_months_are_no_evidence() {
        for kind in [UnitKind::Plan, UnitKind::PlanDelete, UnitKind::UsageTicketDelete, UnitKind::ActualsDelete] {
            assert!(
                of_unit(kind, SenderSide::CareOffice, "a", "b", Some("202604"), &persons(), d(2026, 4, 1)).is_empty()
            );
        }
        let none = of_unit(UnitKind::Actuals, SenderSide::Provider, "a", "b", None, &persons(), d(2026, 4, 1));
        assert!(none.is_empty());
        let bad = of_unit(UnitKind::Actuals, SenderSide::Provider, "a", "b", Some("202613"), &persons(), d(2026, 4, 1));
        assert!(bad.is_empty());
        // One office on both sides counts once per person.
        let same =
            of_unit(UnitKind::Actuals, SenderSide::Provider, "a", "a", Some("202603"), &persons(), d(2026, 4, 1));
        assert_eq!(same.len(), 2);
        assert_eq!(month_of(d(2026, 4, 30)), "202604");
    }
}
