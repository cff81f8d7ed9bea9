//! A 10,000-person 第6表 checked with bounded memory: scanning keeps no rows, so its peak
//! memory beyond the file's own bytes stays a small fraction of the file (VmHWM, Linux).

use kaigo_careplan::csv::scan_file;
use kaigo_careplan::domain::spec::Spec;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One 第6表 file: `persons` people, eight service dates each.
pub fn usage_file(persons: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(persons * 8 * 200);
    for p in 0..persons {
        for day in 1..=8 {
            let row = format!(
                "202407,435073,{p:010},20250425,202505,1370000018,\"介護　支援子\",387,0,202505{day:02},,1000,1100,1,111211,,,,,1370000026,\"みずかみヘルパーステーション\",,0,1370000018,\r\n"
            );
            let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(&row);
            assert!(!bad);
            out.extend_from_slice(&bytes);
        }
    }
    out
}

#[test]
fn a_10000_person_file_is_scanned_with_bounded_memory() {
    let spec = Spec::embedded().unwrap();
    let bytes = usage_file(10_000);
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let summary = scan_file("UPPLAN_202505_1370000018_43_1370000026_11_20250425103000.CSV", &bytes, &spec);
    let elapsed = started.elapsed();
    let after = peak_rss_kib();
    assert!(summary.valid(), "{:?}", summary.issues.first());
    assert_eq!(summary.record_count, 80_000);
    assert_eq!(summary.persons.len(), 10_000);
    if let (Some(before), Some(after)) = (before, after) {
        let grown = after.saturating_sub(before);
        eprintln!(
            "10,000 persons, {} bytes: peak RSS {before} KiB before, {after} KiB after (+{grown} KiB), {elapsed:?}",
            bytes.len()
        );
        // Rows are not kept: the growth is the person set, far below the file size.
        assert!(grown * 1024 < bytes.len() as u64 / 2, "scan grew the peak by {grown} KiB");
    }
}
