//! The pure parts of a check: decoding an L2 timeline, assessing it on a date, and parsing
//! the identifiers of a request.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use kaigo_eligibility::cache::codec;
use kaigo_eligibility::domain::{PersonCore, Record, Timeline};
use kaigo_eligibility::seed::generate;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

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

criterion_group!(hot_path, benches);
criterion_main!(hot_path);
