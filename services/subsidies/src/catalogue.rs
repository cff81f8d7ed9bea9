//! The programmes this service knows: those built in (one file per fiscal year under
//! `programmes/`) and those in the configured directory (`subsidies.programme_dir`), so that a
//! new fiscal year, or a corrected one, needs a file and a restart but no code change.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::domain::programme::{Programme, ProgrammeError, parse_programme};

/// The FY2025 programme file, built into the binary.
pub const FY2025: &str = include_str!("../programmes/fy2025.toml");

/// The FY2026 programme file as announced (unverified; see its comment), built in beside FY2025.
pub const FY2026: &str = include_str!("../programmes/fy2026.toml");

/// The built-in programme files: (name, text).
pub const EMBEDDED: [(&str, &str); 2] = [("programmes/fy2025.toml", FY2025), ("programmes/fy2026.toml", FY2026)];

/// The id of the demo programme of `kaigo dev` ([`Catalogue::with_demo`]).
pub const DEMO_ID: &str = "demo";

/// The loaded programmes, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    programmes: BTreeMap<String, Arc<Programme>>,
}

impl Catalogue {
    /// The built-in programmes, then every `*.toml` in `dir` (if given); a directory file with a
    /// built-in programme's id replaces it. Any bad file stops the load, naming file and key.
    pub fn load(dir: Option<&Path>) -> Result<Self, ProgrammeError> {
        let mut catalogue = Catalogue::default();
        for (name, text) in EMBEDDED {
            catalogue.add(parse_programme(name, text)?, name)?;
        }
        let Some(dir) = dir else { return Ok(catalogue) };
        let unreadable = |err: std::io::Error| ProgrammeError {
            file: dir.display().to_string(),
            key: "subsidies.programme_dir".to_owned(),
            message: format!("cannot read the programme directory: {err}"),
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(unreadable)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        let mut from_dir = BTreeMap::new();
        for path in files {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|err| ProgrammeError {
                file: name.clone(),
                key: "(file)".to_owned(),
                message: format!("cannot read: {err}"),
            })?;
            let programme = parse_programme(&name, &text)?;
            if let Some(earlier) = from_dir.insert(programme.programme_id.clone(), name.clone()) {
                return Err(ProgrammeError {
                    file: name,
                    key: "programme_id".to_owned(),
                    message: format!("{} is also defined in {earlier}", programme.programme_id),
                });
            }
            if catalogue.programmes.contains_key(&programme.programme_id) {
                tracing::warn!(programme = %programme.programme_id, file = %name, "programme file replaces the built-in one");
            }
            catalogue.programmes.insert(programme.programme_id.clone(), Arc::new(programme));
        }
        Ok(catalogue)
    }

    fn add(&mut self, programme: Programme, name: &str) -> Result<(), ProgrammeError> {
        if self.programmes.contains_key(&programme.programme_id) {
            return Err(ProgrammeError {
                file: name.to_owned(),
                key: "programme_id".to_owned(),
                message: format!("{} is defined twice", programme.programme_id),
            });
        }
        self.programmes.insert(programme.programme_id.clone(), Arc::new(programme));
        Ok(())
    }

    /// Adds [`DEMO_ID`]: the newest programme's care-office rules and the newest medical tiers
    /// (each from the newest programme that has them), titled as a demo and open to every
    /// applicant kind from the first to the last day of the fiscal year of `today`
    /// (April–March).
    pub fn with_demo(mut self, today: chrono::NaiveDate) -> Self {
        use crate::domain::programme::Window;
        use chrono::Datelike;
        let newest_first = self.newest_first();
        let Some(newest) = newest_first.first() else { return self };
        let fiscal_year = if today.month() >= 4 { today.year() } else { today.year() - 1 };
        let mut demo = (**newest).clone();
        demo.programme_id = DEMO_ID.to_owned();
        demo.fiscal_year = fiscal_year;
        demo.title = format!("【デモ】{}（kaigo dev 用、受付期間は今年度）", newest.title);
        if demo.care_office.is_none() {
            demo.care_office = newest_first.iter().find_map(|p| p.care_office.clone());
        }
        if demo.medical_tiers.is_empty() {
            demo.medical_tiers = newest_first
                .iter()
                .find(|p| !p.medical_tiers.is_empty())
                .map(|p| p.medical_tiers.clone())
                .unwrap_or_default();
        }
        let window = Window {
            open_date: chrono::NaiveDate::from_ymd_opt(fiscal_year, 4, 1),
            deadline: chrono::NaiveDate::from_ymd_opt(fiscal_year + 1, 3, 31).unwrap_or(today),
        };
        demo.windows = demo.kinds().into_iter().map(|kind| (kind, window)).collect();
        demo.application_open_date = None;
        demo.application_deadline = None;
        self.programmes.insert(DEMO_ID.to_owned(), Arc::new(demo));
        self
    }

    /// The programme with this id.
    pub fn get(&self, id: &str) -> Option<Arc<Programme>> {
        self.programmes.get(id).cloned()
    }

    /// Every programme, newest fiscal year first (then by id).
    pub fn newest_first(&self) -> Vec<Arc<Programme>> {
        let mut all: Vec<_> = self.programmes.values().cloned().collect();
        all.sort_by(|a, b| b.fiscal_year.cmp(&a.fiscal_year).then_with(|| a.programme_id.cmp(&b.programme_id)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_programme_is_open_for_the_whole_current_fiscal_year() {
        use crate::domain::programme::ApplicantKind;
        let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for (today, fiscal_year) in [(date(2026, 11, 29), 2026), (date(2027, 3, 31), 2026), (date(2027, 4, 1), 2027)] {
            let catalogue = Catalogue::load(None).unwrap().with_demo(today);
            let demo = catalogue.get(DEMO_ID).unwrap();
            let fy2026 = catalogue.get("fy2026").unwrap();
            let fy2025 = catalogue.get("fy2025").unwrap();
            assert_eq!(demo.fiscal_year, fiscal_year);
            for kind in ApplicantKind::ALL {
                let window = demo.window(kind).unwrap();
                assert_eq!(window.open_date, Some(date(fiscal_year, 4, 1)), "{kind:?}");
                assert_eq!(window.deadline, date(fiscal_year + 1, 3, 31), "{kind:?}");
                assert!(window.open_date.unwrap() <= today && today <= window.deadline);
            }
            assert!(demo.title.starts_with("【デモ】"));
            // The tables are the newest real ones: FY2026's care-office rules, FY2025's tiers
            // (FY2026 states none).
            assert_eq!(demo.care_office, fy2026.care_office);
            assert!(fy2026.medical_tiers.is_empty());
            assert_eq!(demo.medical_tiers, fy2025.medical_tiers);
            // The real programmes are untouched.
            assert_eq!(fy2025.window(ApplicantKind::CareOffice).unwrap().deadline, date(2026, 3, 13));
        }
    }

    #[test]
    fn fy2026_is_built_in_beside_fy2025_with_its_announced_window_and_marked_unverified() {
        use crate::domain::programme::ApplicantKind;
        let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let catalogue = Catalogue::load(None).unwrap();
        let ids: Vec<_> = catalogue.newest_first().iter().map(|p| p.programme_id.clone()).collect();
        assert_eq!(ids, ["fy2026", "fy2025"]);
        let fy2026 = catalogue.get("fy2026").unwrap();
        let window = fy2026.window(ApplicantKind::CareOffice).unwrap();
        assert_eq!((window.open_date, window.deadline), (Some(date(2026, 5, 7)), date(2027, 3, 12)));
        assert_eq!(fy2026.window(ApplicantKind::MedicalInstitution), None);
        let caps: Vec<_> =
            fy2026.care_office.as_ref().unwrap().categories.iter().map(|c| (c.max_readers, c.cap_yen)).collect();
        assert_eq!(caps, [(3, 64_000), (2, 55_000), (1, 42_000)]);
        assert!(FY2026.contains("UNVERIFIED"));
        assert!(fy2026.title.contains("未確認"));
        // FY2025: the portal opened in August 2025; both kinds close on 2026-03-13.
        let fy2025 = catalogue.get("fy2025").unwrap();
        for kind in ApplicantKind::ALL {
            let w = fy2025.window(kind).unwrap();
            assert_eq!((w.open_date, w.deadline), (Some(date(2025, 8, 1)), date(2026, 3, 13)));
        }
    }

    #[test]
    fn a_file_of_the_old_shape_gives_one_window_to_every_kind_and_a_missing_window_is_refused() {
        use crate::domain::programme::{ApplicantKind, parse_programme};
        let start = FY2025.find("[windows.care_office]").unwrap();
        let end = FY2025.find("[care_office]").unwrap();
        let without = format!("{}{}", &FY2025[..start], &FY2025[end..]);
        let err = parse_programme("x.toml", &without).unwrap_err();
        assert_eq!(err.key, "windows.care_office");
        let old = without.replace(
            "tax_included = true",
            "tax_included = true\napplication_open_date = \"2025-04-01\"\napplication_deadline = \"2026-03-13\"",
        );
        let p = parse_programme("old.toml", &old).unwrap();
        for kind in ApplicantKind::ALL {
            assert_eq!(p.window(kind).unwrap().deadline, chrono::NaiveDate::from_ymd_opt(2026, 3, 13).unwrap());
        }
        let inverted = FY2025.replacen("deadline = \"2026-03-13\"", "deadline = \"2025-07-01\"", 1);
        assert_eq!(parse_programme("x.toml", &inverted).unwrap_err().key, "windows.care_office.open_date");
    }

    #[test]
    fn a_directory_adds_a_new_year_without_code() {
        let dir = tempfile::tempdir().unwrap();
        let fy2026 = FY2025.replace("\"fy2025\"", "\"fy2026\"").replace("fiscal_year = 2025", "fiscal_year = 2026");
        std::fs::write(dir.path().join("fy2026.toml"), fy2026).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a programme").unwrap();
        let catalogue = Catalogue::load(Some(dir.path())).unwrap();
        let ids: Vec<_> = catalogue.newest_first().iter().map(|p| p.programme_id.clone()).collect();
        assert_eq!(ids, ["fy2026", "fy2025"]);
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let bad = FY2025.replace("\"fy2025\"", "\"fy2027\"").replace("cap_yen = 55000", "cap_yen = -1");
        std::fs::write(dir.path().join("fy2027.toml"), bad).unwrap();
        let err = Catalogue::load(Some(dir.path())).unwrap_err();
        assert!(err.file.ends_with("fy2027.toml"), "{err}");
        assert_eq!(err.key, "care_office.categories[1].cap_yen");

        let typo = FY2025.replace("\"fy2025\"", "\"fy2028\"").replace("max_readers = 3", "max_reader = 3");
        std::fs::write(dir.path().join("fy2027.toml"), typo).unwrap();
        let err = Catalogue::load(Some(dir.path())).unwrap_err();
        assert!(err.key.starts_with("care_office.categories"), "{err}");
        assert!(err.to_string().contains("max_reader"), "{err}");
    }

    #[test]
    fn a_missing_directory_names_the_setting() {
        let err = Catalogue::load(Some(Path::new("/nonexistent/kaigo/programmes"))).unwrap_err();
        assert_eq!(err.key, "subsidies.programme_dir");
    }
}
