//! Properties of the parser: no input panics it, and any file it accepts writes back to the
//! same bytes.

use kaigo_careplan::csv::{read_file, write_file};
use kaigo_careplan::domain::spec::Spec;
use proptest::prelude::*;

const NAMES: [&str; 6] = [
    "UPPLAN_202505_1370000018_43_1370000026_11_20250425103000.CSV",
    "UPSIKYU_202505_1370000018_43_1370000026_11_20250425103000.CSV",
    "UPHOSOKU_000000_1370000018_43_1370000026_11_20250425103000.CSV",
    "DLTJSK_202505_1370000026_11_1370000018_43_20250602090000.CSV",
    // 介護予防 (docs/domain/careplan-csv.md#prevention): a two-token prefix and a 71-column layout.
    "UPKIHON_SUB1_1370000018_46_1370000026_63_20250425103000.CSV",
    "UPKIHON_1370000018_46_1370000026_63_20250425103000.CSV",
];

fn check(name: &str, bytes: &[u8], spec: &Spec) {
    let outcome = read_file(name, bytes, spec);
    if let Some(file) = &outcome.file {
        let written = write_file(file, Some(&outcome.style), spec).unwrap();
        assert_eq!(written, bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(name_index in 0usize..NAMES.len(), bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let spec = Spec::embedded().unwrap();
        check(NAMES[name_index], &bytes, &spec);
    }

    #[test]
    fn arbitrary_names_never_panic(name in "\\PC{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let spec = Spec::embedded().unwrap();
        check(&name, &bytes, &spec);
    }

    #[test]
    fn mutated_valid_rows_never_panic(
        pos in 0usize..200,
        byte in prop::sample::select(vec![b',', b'"', b'\r', b'\n', b'0', b'9', 0x81, 0xFF, b'A']),
    ) {
        let spec = Spec::embedded().unwrap();
        let mut bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/valid/UPPLAN_202505_1370000018_43_1370000026_11_20250425103100.CSV")).unwrap();
        let at = pos % bytes.len();
        bytes[at] = byte;
        check(NAMES[0].replace("103000", "103100").as_str(), &bytes, &spec);
    }
}
