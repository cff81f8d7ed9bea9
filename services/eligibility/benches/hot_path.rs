//! The pure parts of a check: decoding an L2 timeline, assessing it on a date, and parsing
//! the identifiers of a request.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use kaigo_eligibility::cache::codec;
use kaigo_eligibility::domain::{PersonCore, Record, Timeline};
use kaigo_eligibility::seed::generate;
use kaigo_platform::access::{
    AccessOptions, Category, Consent, Facts, Gate, Grantee, OrganizationKind, PersonRef, Registration,
};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber};

fn certified_timeline() -> Timeline {
    let insurer = InsurerNumber::parse("435073").unwrap_or_else(|_| unreachable!());
    let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap_or_default();
    let person = generate(&insurer, 1, 1, 1, today).remove(0);
    Timeline {
        person: PersonCore {
            category: 1,
            acquired: person.person.acquired_date,
            lost: None,
            version: 3,
            changed_at: 0,
        },
        records: person
            .periods
            .iter()
            .map(|(s, e, d)| Record { id: 0, start: *s, end: *e, detail: d.clone() })
            .collect(),
    }
}

fn benches(c: &mut Criterion) {
    let timeline = certified_timeline();
    let bytes = codec::encode(&timeline);
    let day = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap_or_default();
    c.bench_function("codec_encode_certified", |b| b.iter(|| codec::encode(black_box(&timeline))));
    c.bench_function("codec_decode_certified", |b| b.iter(|| codec::decode(black_box(&bytes))));
    c.bench_function("assess_certified", |b| b.iter(|| black_box(&timeline).assess(black_box(day)).verdict));
    c.bench_function("parse_identifiers", |b| {
        b.iter(|| {
            (InsurerNumber::parse(black_box("435073")).is_ok(), InsuredNumber::parse(black_box("0000000001")).is_ok())
        })
    });
}

/// The access decision of a check (docs/domain/access.md#facts-copy): a registered office with
/// a consent, among a few other registrations and consents of the person, as cached.
fn access(c: &mut Criterion) {
    let day = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap_or_default();
    let start = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap_or_default();
    let offices = ["4371000128", "4371000201", "0300000106"];
    let facts = Facts {
        registrations: offices
            .iter()
            .map(|o| Registration { organization: (*o).into(), kind: OrganizationKind::CareOffice, start, end: None })
            .collect(),
        consents: offices
            .iter()
            .map(|o| Consent {
                grantee: Grantee::Organization((*o).into()),
                categories: Category::ALL.into_iter().collect(),
                valid_from: start,
                valid_until: None,
                withdrawn_on: None,
            })
            .collect(),
        links: vec![],
        stamp: 6,
    };
    let office = Caller {
        subject: "bench".into(),
        role: Role::CareOffice,
        insurer: None,
        office: CareOfficeNumber::parse("0300000106").ok(),
        institution: None,
        scopes: vec![],
        consents: vec![],
    };
    let insurer =
        Caller { role: Role::Insurer, office: None, insurer: InsurerNumber::parse("435073").ok(), ..office.clone() };
    let gate = Gate::builtin("bench", &AccessOptions::default());
    let person = PersonRef::new("435073", "0000000001");
    c.bench_function("access_decide_registered_office", |b| {
        b.iter(|| {
            gate.decide(black_box(&office), person, Category::InsuranceCertificates, day, black_box(&facts)).is_ok()
        })
    });
    c.bench_function("access_decide_own_insurer", |b| {
        b.iter(|| gate.decide(black_box(&insurer), person, Category::CostShare, day, &Facts::default()).is_ok())
    });
    let timeline = certified_timeline();
    let bytes = codec::encode_entry(&timeline, &facts);
    c.bench_function("codec_decode_entry_with_facts", |b| b.iter(|| codec::decode_entry(black_box(&bytes))));
}

criterion_group!(hot_path, benches, access);
criterion_main!(hot_path);
