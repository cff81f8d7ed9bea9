//! The programmes this service knows: those built in (one file per fiscal year under
//! `programmes/`) and those in the configured directory (`subsidies.programme_dir`), so that a
//! new fiscal year, or a corrected one, needs a file and a restart but no code change.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::domain::programme::{Programme, ProgrammeError, parse_programme};

/// The FY2025 programme file, built into the binary.
pub const FY2025: &str = include_str!("../programmes/fy2025.toml");

/// The built-in programme files: (name, text).
pub const EMBEDDED: [(&str, &str); 1] = [("programmes/fy2025.toml", FY2025)];

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

    /// Adds [`DEMO_ID`]: the newest programme's tables, titled as a demo and open from the
    /// first to the last day of the fiscal year of `today` (April–March).
    pub fn with_demo(mut self, today: chrono::NaiveDate) -> Self {
        use chrono::Datelike;
        let Some(newest) = self.newest_first().into_iter().next() else { return self };
        let fiscal_year = if today.month() >= 4 { today.year() } else { today.year() - 1 };
        let mut demo = (*newest).clone();
        demo.programme_id = DEMO_ID.to_owned();
        demo.fiscal_year = fiscal_year;
        demo.title = format!("【デモ】{}（kaigo dev 用、受付期間は今年度）", newest.title);
        demo.application_open_date = chrono::NaiveDate::from_ymd_opt(fiscal_year, 4, 1);
        demo.application_deadline = chrono::NaiveDate::from_ymd_opt(fiscal_year + 1, 3, 31).unwrap_or(today);
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
        let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for (today, fiscal_year) in [(date(2026, 11, 29), 2026), (date(2027, 3, 31), 2026), (date(2027, 4, 1), 2027)] {
            let catalogue = Catalogue::load(None).unwrap().with_demo(today);
            let demo = catalogue.get(DEMO_ID).unwrap();
            let real = catalogue.get("fy2025").unwrap();
            assert_eq!(demo.fiscal_year, fiscal_year);
            assert_eq!(demo.application_open_date, Some(date(fiscal_year, 4, 1)));
            assert_eq!(demo.application_deadline, date(fiscal_year + 1, 3, 31));
            assert!(demo.application_open_date.unwrap() <= today && today <= demo.application_deadline);
            assert!(demo.title.starts_with("【デモ】"));
            // The tables are the real programme's.
            assert_eq!(demo.care_office, real.care_office);
            assert_eq!(demo.medical_tiers, real.medical_tiers);
            // The real programme is untouched.
            assert_eq!(real.application_deadline, date(2026, 3, 13));
        }
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
