//! kaigo-access: the one access decision of kaigo.
//!
//! *May this caller see this category of this person's record on this date?* Every service
//! asks the same question (docs/domain/access.md#in-kaigo) and gets its answer from
//! [`RuleTable::decide`], a pure function of
//!
//! - the caller's [`Viewer`] (role and organisation),
//! - its [`Relationship`] to the person on the date (the person's own insurer, a registered
//!   担当 organisation of some kind, the person, or nobody), worked out from the person's
//!   registrations by [`relationship`],
//! - the person's [`Consent`]s,
//! - the [`Category`] asked for and the date.
//!
//! The rules are data (docs/domain/access.md#rule-table): a table role × relationship →
//! categories seen without consent and categories seen with a consent, built in
//! ([`RuleTable::builtin`], `rules/default.toml`) and replaceable by a deployment
//! ([`RuleTable::from_toml`]). This crate has no I/O and depends on no service: the registry
//! service decides with it now, and the other services will decide with it from the
//! registrations and consents its events carry into their own stores.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Deserialize;

/// The built-in rule table (`rules/default.toml`).
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

/// What a caller may ask to see of a person (docs/domain/access.md#categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// 被保険者証等: certificate facts (level, validity, limits, care-management office).
    InsuranceCertificates,
    /// 負担割合・負担限度額: the co-payment ratio and the cost-limit stage.
    CostShare,
    /// 認定情報: certification progress and results, incl. the 調査票 and the 主治医意見書.
    Certification,
    /// ケアプラン: care plans exchanged for the person.
    CarePlan,
}

impl Category {
    /// Every category, in a stable order.
    pub const ALL: [Category; 4] =
        [Category::InsuranceCertificates, Category::CostShare, Category::Certification, Category::CarePlan];

    /// The category's name in rule files, audit records and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::InsuranceCertificates => "insurance_certificates",
            Category::CostShare => "cost_share",
            Category::Certification => "certification",
            Category::CarePlan => "care_plan",
        }
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Category::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            format!("unknown category {s:?}; expected one of {}", Category::ALL.map(Category::as_str).join(", "))
        })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling, in the platform's terms: the one role type of the whole system (the
/// platform's verified caller carries it; `kaigo_platform::auth::Role` is this type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 保険者.
    Insurer,
    /// 居宅介護支援事業所.
    CareOffice,
    /// 介護サービス事業所.
    ServiceProvider,
    /// 医療機関.
    MedicalInstitution,
    /// The insured person.
    InsuredPerson,
    /// A platform operator.
    Operator,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Insurer,
        Role::CareOffice,
        Role::ServiceProvider,
        Role::MedicalInstitution,
        Role::InsuredPerson,
        Role::Operator,
    ];

    /// The role's name, as in tokens and rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Insurer => "insurer",
            Role::CareOffice => "care_office",
            Role::ServiceProvider => "service_provider",
            Role::MedicalInstitution => "medical_institution",
            Role::InsuredPerson => "insured_person",
            Role::Operator => "operator",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}; expected one of {}", Role::ALL.map(Role::as_str).join(", ")))
    }
}

/// The kind of organisation a registration or a consent names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrganizationKind {
    /// 居宅介護支援事業所 (care-management office), by 事業所番号.
    CareOffice,
    /// 介護サービス事業所 (service provider), by 事業所番号.
    ServiceProvider,
    /// 医療機関, by 医療機関コード.
    MedicalInstitution,
}

impl OrganizationKind {
    /// Every kind.
    pub const ALL: [OrganizationKind; 3] =
        [OrganizationKind::CareOffice, OrganizationKind::ServiceProvider, OrganizationKind::MedicalInstitution];

    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrganizationKind::CareOffice => "care_office",
            OrganizationKind::ServiceProvider => "service_provider",
            OrganizationKind::MedicalInstitution => "medical_institution",
        }
    }

    /// The kind an organisation calling in `role` is; `None` for insurers, persons, operators.
    pub fn of_role(role: Role) -> Option<Self> {
        match role {
            Role::CareOffice => Some(OrganizationKind::CareOffice),
            Role::ServiceProvider => Some(OrganizationKind::ServiceProvider),
            Role::MedicalInstitution => Some(OrganizationKind::MedicalInstitution),
            Role::Insurer | Role::InsuredPerson | Role::Operator => None,
        }
    }
}

impl FromStr for OrganizationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OrganizationKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown kind {s:?}"))
    }
}

/// How the caller stands to the person on the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Relationship {
    /// The caller is the person's insurer.
    OwnInsured,
    /// The caller is another insurer.
    OtherInsurer,
    /// The caller is the person.
    OwnRecord,
    /// The caller's organisation is registered as the person's 担当 of this kind.
    Registered(OrganizationKind),
    /// No registration (or an ended one).
    None,
}

impl Relationship {
    /// The relationship's name in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::OwnInsured => "own_insured",
            Relationship::OtherInsurer => "other_insurer",
            Relationship::OwnRecord => "self",
            Relationship::Registered(OrganizationKind::CareOffice) => "registered_care_office",
            Relationship::Registered(OrganizationKind::ServiceProvider) => "registered_service_provider",
            Relationship::Registered(OrganizationKind::MedicalInstitution) => "registered_medical_institution",
            Relationship::None => "none",
        }
    }

    const ALL: [Relationship; 7] = [
        Relationship::OwnInsured,
        Relationship::OtherInsurer,
        Relationship::OwnRecord,
        Relationship::Registered(OrganizationKind::CareOffice),
        Relationship::Registered(OrganizationKind::ServiceProvider),
        Relationship::Registered(OrganizationKind::MedicalInstitution),
        Relationship::None,
    ];
}

impl FromStr for Relationship {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Relationship::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            format!(
                "unknown relationship {s:?}; expected one of {}",
                Relationship::ALL.map(Relationship::as_str).join(", ")
            )
        })
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The caller's role.
    pub role: Role,
    /// The organisation it acts for (保険者番号, 事業所番号 or 医療機関コード); `None` for persons
    /// and operators.
    pub organization: Option<String>,
}

/// A registration of an organisation as a person's 担当, as far as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The registered organisation's number.
    pub organization: String,
    /// As what it is registered.
    pub kind: OrganizationKind,
    /// First day it counts (JST).
    pub start: NaiveDate,
    /// The day it ended (JST), if it did: it does not count from that day on.
    pub end: Option<NaiveDate>,
}

impl Registration {
    /// True when it counts on `date`.
    pub fn active_on(&self, date: NaiveDate) -> bool {
        self.start <= date && self.end.is_none_or(|end| date < end)
    }
}

/// To whom a consent is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// One organisation, by number.
    Organization(String),
    /// Every organisation of a kind (e.g. any medical institution the person visits).
    Kind(OrganizationKind),
}

/// A person's consent, as far as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// To whom.
    pub grantee: Grantee,
    /// Which categories.
    pub categories: BTreeSet<Category>,
    /// First day it is valid (JST).
    pub valid_from: NaiveDate,
    /// Last day it is valid (JST, inclusive); `None`: until withdrawn.
    pub valid_until: Option<NaiveDate>,
    /// The day it was withdrawn (JST): it does not count from that day on.
    pub withdrawn_on: Option<NaiveDate>,
}

impl Consent {
    /// True when the consent lets `viewer` see `category` on `date`.
    pub fn covers(&self, viewer: &Viewer, category: Category, date: NaiveDate) -> bool {
        let to_viewer = match &self.grantee {
            Grantee::Organization(number) => viewer.organization.as_deref() == Some(number.as_str()),
            Grantee::Kind(kind) => OrganizationKind::of_role(viewer.role) == Some(*kind),
        };
        to_viewer
            && self.categories.contains(&category)
            && self.valid_from <= date
            && self.valid_until.is_none_or(|until| date <= until)
            && self.withdrawn_on.is_none_or(|withdrawn| date < withdrawn)
    }
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The caller may see the category.
    Allowed,
    /// It may not.
    Denied(Denial),
}

/// Why not; each maps to a PERMISSION_DENIED reason ([`Denial::reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The caller's organisation is not registered as the person's 担当 on the date.
    NotRegistered,
    /// Registered, but no valid consent covers this category.
    ConsentRequired(Category),
    /// The rules never show this category to this role on this relationship (a medical
    /// institution and 負担割合, another insurer, an operator).
    NotPermitted,
}

impl Denial {
    /// The ErrorInfo reason a service answers with.
    pub fn reason(self) -> &'static str {
        match self {
            Denial::NotRegistered => "NOT_REGISTERED",
            Denial::ConsentRequired(_) => "CONSENT_REQUIRED",
            Denial::NotPermitted => "NOT_PERMITTED",
        }
    }
}

/// Works out how `viewer` stands to the person insured by `person_insurer` on `date`, from the
/// person's registrations. An organisation registered under several kinds (a medical
/// institution that also provides care) stands in each of them; [`RuleTable::decide`] grants
/// what any of them grants.
pub fn relationship(
    viewer: &Viewer,
    person_insurer: &str,
    registrations: &[Registration],
    date: NaiveDate,
) -> Vec<Relationship> {
    match viewer.role {
        Role::Insurer => {
            if viewer.organization.as_deref() == Some(person_insurer) {
                vec![Relationship::OwnInsured]
            } else {
                vec![Relationship::OtherInsurer]
            }
        }
        Role::InsuredPerson => vec![Relationship::OwnRecord],
        Role::Operator => vec![Relationship::None],
        Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution => {
            let Some(own) = viewer.organization.as_deref() else { return vec![Relationship::None] };
            let mut kinds: Vec<OrganizationKind> =
                registrations.iter().filter(|r| r.organization == own && r.active_on(date)).map(|r| r.kind).collect();
            kinds.sort();
            kinds.dedup();
            if kinds.is_empty() {
                vec![Relationship::None]
            } else {
                kinds.into_iter().map(Relationship::Registered).collect()
            }
        }
    }
}

/// What one (role, relationship) row grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// Seen on the relationship alone.
    pub without_consent: BTreeSet<Category>,
    /// Seen while a consent covers the category.
    pub with_consent: BTreeSet<Category>,
}

/// The rule table: role × relationship → [`Grant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTable {
    rows: BTreeMap<(Role, Relationship), Grant>,
}

/// A rule file that cannot be used; the message names the row and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access rules: {0}")]
pub struct RuleError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleRow {
    role: String,
    relationship: String,
    #[serde(default)]
    without_consent: Vec<String>,
    #[serde(default)]
    with_consent: Vec<String>,
}

impl RuleTable {
    /// The built-in table ([`DEFAULT_RULES`]).
    pub fn builtin() -> Self {
        // The built-in file is checked by this crate's tests; an empty table (deny all) would
        // be the safe fallback, but it cannot happen.
        Self::from_toml(DEFAULT_RULES).unwrap_or(Self { rows: BTreeMap::new() })
    }

    /// Parses and checks a rule file: known roles, relationships and categories; each (role,
    /// relationship) once; a category in at most one of the two lists; no row for operators
    /// or other insurers (they never see a person's record through these rules).
    pub fn from_toml(text: &str) -> Result<Self, RuleError> {
        let file: RuleFile = toml::from_str(text).map_err(|e| RuleError(e.message().to_owned()))?;
        let mut rows = BTreeMap::new();
        for (i, row) in file.rule.iter().enumerate() {
            let at = |field: &str, msg: String| RuleError(format!("rule[{i}].{field}: {msg}"));
            let role: Role = row.role.parse().map_err(|e| at("role", e))?;
            let relationship: Relationship = row.relationship.parse().map_err(|e| at("relationship", e))?;
            if role == Role::Operator
                || relationship == Relationship::OtherInsurer
                || relationship == Relationship::None
            {
                return Err(at(
                    "relationship",
                    "operators, other insurers and unregistered callers get nothing".into(),
                ));
            }
            let parse = |field: &str, list: &[String]| -> Result<BTreeSet<Category>, RuleError> {
                list.iter().map(|c| c.parse().map_err(|e| at(field, e))).collect()
            };
            let grant = Grant {
                without_consent: parse("without_consent", &row.without_consent)?,
                with_consent: parse("with_consent", &row.with_consent)?,
            };
            if let Some(both) = grant.without_consent.intersection(&grant.with_consent).next() {
                return Err(at("with_consent", format!("{both} is also in without_consent")));
            }
            if rows.insert((role, relationship), grant).is_some() {
                return Err(at("relationship", format!("a second row for {} × {}", row.role, row.relationship)));
            }
        }
        Ok(Self { rows })
    }

    /// The row for `role` × `relationship`, if the table has one.
    pub fn grant(&self, role: Role, relationship: Relationship) -> Option<&Grant> {
        self.rows.get(&(role, relationship))
    }

    /// Every row, in a stable order (for documentation and the person's view).
    pub fn rows(&self) -> impl Iterator<Item = (Role, Relationship, &Grant)> {
        self.rows.iter().map(|((role, rel), grant)| (*role, *rel, grant))
    }

    /// The decision: may `viewer`, standing to the person as in `relationships` (from
    /// [`relationship`]), see `category` on `date`, given the person's `consents`?
    ///
    /// - No row for any of the relationships: [`Denial::NotRegistered`] when the caller is an
    ///   organisation without a registration, else [`Denial::NotPermitted`].
    /// - A row granting the category without consent: allowed.
    /// - A row granting it with consent: allowed while a consent covers it
    ///   ([`Consent::covers`]), else [`Denial::ConsentRequired`].
    /// - Otherwise [`Denial::NotPermitted`].
    pub fn decide(
        &self,
        viewer: &Viewer,
        relationships: &[Relationship],
        consents: &[Consent],
        category: Category,
        date: NaiveDate,
    ) -> Decision {
        let grants: Vec<&Grant> = relationships.iter().filter_map(|r| self.grant(viewer.role, *r)).collect();
        if grants.is_empty() {
            let unregistered = OrganizationKind::of_role(viewer.role).is_some()
                && relationships.iter().all(|r| *r == Relationship::None);
            return Decision::Denied(if unregistered { Denial::NotRegistered } else { Denial::NotPermitted });
        }
        if grants.iter().any(|g| g.without_consent.contains(&category)) {
            return Decision::Allowed;
        }
        if grants.iter().any(|g| g.with_consent.contains(&category)) {
            return if consents.iter().any(|c| c.covers(viewer, category, date)) {
                Decision::Allowed
            } else {
                Decision::Denied(Denial::ConsentRequired(category))
            };
        }
        Decision::Denied(Denial::NotPermitted)
    }

    /// Every category `viewer` may see on `date` (for a screen that shows what it may).
    pub fn visible(
        &self,
        viewer: &Viewer,
        relationships: &[Relationship],
        consents: &[Consent],
        date: NaiveDate,
    ) -> BTreeSet<Category> {
        Category::ALL
            .into_iter()
            .filter(|c| self.decide(viewer, relationships, consents, *c, date) == Decision::Allowed)
            .collect()
    }
}

#[cfg(test)]
mod tests;
