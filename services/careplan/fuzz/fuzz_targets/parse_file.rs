//! Fuzzes the care-plan file reader: any name and any bytes must give issues, never a panic,
//! and a file the reader accepts must write back to the same bytes.
#![no_main]

use kaigo_careplan::csv::{read_file, write_file};
use kaigo_careplan::domain::spec::Spec;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 17] = [
    "UPHOSOKU_202505_1370000018_43_1370000026_11_20250425103000.CSV",
    "UP1KYO_1370000018_43_1370000026_11_20250425103000.CSV",
    "DLT1KYO_1370000018_43_1370000026_11_20250425103000.CSV",
    "UP2KYO_1370000018_43_1370000026_11_20250425103000.CSV",
    "UP3KYO_1370000018_43_1370000026_11_20250425103000.CSV",
    "UPPLAN_202505_1370000018_43_1370000026_11_20250425103000.CSV",
    "DLTPLAN_202505_1370000018_43_1370000026_11_20250425103000.CSV",
    "UPJSK_202505_1370000026_11_1370000018_43_20250425103000.CSV",
    "DLTJSK_202505_1370000026_11_1370000018_43_20250425103000.CSV",
    "UPSIKYU_202505_1370000018_43_1370000026_11_20250425103000.CSV",
    "UPKIHON_1370000018_46_1370000026_63_20250425103000.CSV",
    "DLTKIHON_1370000018_46_1370000026_63_20250425103000.CSV",
    "UPKIHON_SUB1_1370000018_46_1370000026_63_20250425103000.CSV",
    "UPKIHON_SUB2_1370000018_46_1370000026_63_20250425103000.CSV",
    "UPYOBO_1370000018_46_1370000026_63_20250425103000.CSV",
    "UPYOBO_SUB_1370000018_46_1370000026_63_20250425103000.CSV",
    "DLTYOBO_1370000018_46_1370000026_63_20250425103000.CSV",
];

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = Spec::embedded() else { return };
    let Some((&selector, bytes)) = data.split_first() else { return };
    let name = NAMES[usize::from(selector) % NAMES.len()];
    let outcome = read_file(name, bytes, &spec);
    if let Some(file) = &outcome.file {
        let written = write_file(file, Some(&outcome.style), &spec);
        assert_eq!(written.as_deref().ok(), Some(bytes), "an accepted file must round-trip");
    }
});
