//! The subsidy calculation: a single-category office, a three-category office over its
//! reader limit, and a medical institution, under the FY2025 programme. Pure CPU, no I/O.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kaigo_platform::ids::{CareOfficeNumber, MedicalInstitutionCode, check_digit};
use kaigo_subsidies::catalogue::FY2025;
use kaigo_subsidies::domain::calculate::calculate;
use kaigo_subsidies::domain::costs::{CareOfficeCosts, Costs, MedicalCosts, ReaderPurchase};
use kaigo_subsidies::domain::programme::{InstitutionType, parse_programme};

fn number(payload: &str) -> String {
    format!("{payload}{}", check_digit(payload.as_bytes()).unwrap_or_default())
}

fn bench(c: &mut Criterion) {
    let Ok(programme) = parse_programme("fy2025.toml", FY2025) else { return };
    let Ok(office) = CareOfficeNumber::parse(&number("217000001")) else { return };
    let Ok(institution) = MedicalInstitutionCode::parse("0110113719") else { return };
    let simple = Costs::CareOffice(CareOfficeCosts {
        office_number: office.clone(),
        category_ids: vec!["other".to_owned()],
        readers: vec![ReaderPurchase { quantity: 1, unit_price_yen: 12_000 }],
        connection_support_cost_yen: 30_000,
        careplan_setup_cost_yen: 0,
    });
    let busy = Costs::CareOffice(CareOfficeCosts {
        office_number: office,
        category_ids: vec!["visit_day_short_stay".to_owned(), "residential".to_owned(), "other".to_owned()],
        readers: (0..5).map(|i| ReaderPurchase { quantity: 2, unit_price_yen: 9_000 + i * 1_000 }).collect(),
        connection_support_cost_yen: 120_000,
        careplan_setup_cost_yen: 20_000,
    });
    let medical = Costs::Medical(MedicalCosts {
        institution_code: institution,
        institution_type: InstitutionType::Hospital,
        beds: 199,
        software_change_cost_yen: 1_000_001,
    });
    let mut group = c.benchmark_group("calculate");
    group.bench_function("care_office_one_category", |b| {
        b.iter(|| calculate(black_box(&programme), black_box(&simple)))
    });
    group.bench_function("care_office_three_categories_over_limit", |b| {
        b.iter(|| calculate(black_box(&programme), black_box(&busy)))
    });
    group.bench_function("medical_tier", |b| b.iter(|| calculate(black_box(&programme), black_box(&medical))));
    group.bench_function("parse_fy2025_file", |b| b.iter(|| parse_programme("fy2025.toml", black_box(FY2025))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
