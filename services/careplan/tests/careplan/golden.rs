//! The golden files (tests/golden, written by make_golden.py from the spec and encoded with
//! Python's cp932): every valid file reads without error and writes back byte for byte; every
//! invalid file gives exactly the expected issues.

use std::path::{Path, PathBuf};

use kaigo_careplan::csv::{read_file, scan_file, write_file};
use kaigo_careplan::domain::issue::Severity;
use kaigo_careplan::domain::spec::Spec;

fn golden(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(dir)
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "CSV"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn round_trip(dir: &str, expect_warnings: bool) -> usize {
    let spec = Spec::embedded().unwrap();
    let files = files(&golden(dir));
    for (name, bytes) in &files {
        let outcome = read_file(name, bytes, &spec);
        let summary = &outcome.summary;
        assert!(summary.valid(), "{name}: {:#?}", summary.issues);
        let warnings = summary.issues.iter().filter(|i| i.severity == Severity::Warning).count();
        assert_eq!(warnings > 0, expect_warnings && warnings > 0, "{name}: {:#?}", summary.issues);
        let file = outcome.file.as_ref().unwrap();
        assert!(!file.records.is_empty());
        assert_eq!(file.name.render(&spec).as_deref(), Some(name.as_str()));
        let written = write_file(file, Some(&outcome.style), &spec).unwrap();
        assert!(written == *bytes, "{name}: not byte-identical");
        // The canonical writing (no style) is valid too and reads back to the same model.
        let canonical = write_file(file, None, &spec).unwrap();
        let again = read_file(name, &canonical, &spec);
        assert!(again.summary.valid(), "{name}: {:#?}", again.summary.issues);
        assert_eq!(again.file.as_ref(), Some(file), "{name}");
        // Scanning finds what reading finds, keeping no rows.
        let scanned = scan_file(name, bytes, &spec);
        assert_eq!(scanned.persons(), summary.persons());
        assert_eq!(scanned.sets, summary.sets);
        assert_eq!(scanned.record_count, summary.record_count);
    }
    files.len()
}

#[test]
fn every_valid_golden_file_round_trips_byte_for_byte() {
    assert_eq!(round_trip("valid", false), 12);
}

#[test]
fn non_canonical_styles_round_trip_byte_for_byte() {
    assert_eq!(round_trip("style", true), 5);
}

#[test]
fn the_canonical_writer_is_crlf_and_quotes_free_text() {
    let spec = Spec::embedded().unwrap();
    let dir = golden("style");
    let name = "UPPLAN_202505_1370000018_43_1370000026_11_20250425103200.CSV";
    let bytes = std::fs::read(dir.join(name)).unwrap();
    let outcome = read_file(name, &bytes, &spec);
    let canonical = write_file(outcome.file.as_ref().unwrap(), None, &spec).unwrap();
    assert!(canonical.ends_with(b"\r\n"));
    assert_eq!(canonical.iter().filter(|&&b| b == b'\n').count(), 4);
    assert!(!bytes.ends_with(b"\n"));
}

#[test]
fn every_invalid_golden_file_gives_exactly_its_issues() {
    let spec = Spec::embedded().unwrap();
    let mut cases = 0;
    for entry in std::fs::read_dir(golden("invalid")).unwrap() {
        let dir = entry.unwrap().path();
        let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
        let expected: Vec<&str> = expected.lines().collect();
        let [(name, bytes)] = files(&dir).try_into().unwrap();
        let summary = scan_file(&name, &bytes, &spec);
        let found: Vec<String> = summary
            .issues
            .iter()
            .map(|i| format!("{} {}:{} {}", if i.is_error() { "E" } else { "W" }, i.line, i.column, i.code))
            .collect();
        assert_eq!(found, expected, "{}: {:#?}", dir.display(), summary.issues);
        assert!(!summary.valid());
        let read = read_file(&name, &bytes, &spec);
        assert!(read.file.is_none());
        // Messages name the rule, never a value from the file.
        for issue in &summary.issues {
            for secret in ["山田", "0000000001", "H123456789", "介護　支援子"] {
                assert!(!issue.message.contains(secret), "{}: {}", dir.display(), issue.message);
            }
        }
        cases += 1;
    }
    assert!(cases >= 20, "{cases}");
}
