//! 住宅改修費 and 福祉用具購入費 (docs/domain/eligibility.md#allowances): the insurer records,
//! corrects and voids uses (idempotent on `request_id`, optimistic on the person's version, as
//! every record write); the person, their insurer and their registered care office list them;
//! those and a provider acting for the person check what remains on a date. Every read goes
//! through the access decision (docs/domain/access.md#allowances) and the read audit.

use chrono::NaiveDate;
use kaigo_platform::access::{Category, Facts, PersonRef};
use kaigo_platform::audit::{self, ReadRecord};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors;
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_platform::{ApiError, Violations};
use kaigo_proto::from_naive_date;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use prost::Message;

use super::{Api, convert, validated};
use crate::domain::access::needs_facts;
use crate::domain::allowances::{self as rules, AllowanceView, Status, UseFacts, UseKind};
use crate::key::PersonKey;
use crate::store::allowances::{self as uses, Row};
use crate::store::write::Author;
use crate::store::{self, ACTIVE, SUPERSEDED, VOIDED};

/// The audit trail's category of these reads.
const CATEGORY: &str = "allowance_use";
/// Longest claim reference, characters of `[0-9A-Za-z-]` (as documented).
const MAX_REFERENCE: usize = 32;
/// Longest dwelling reference, characters of `[0-9A-Za-z_-]` (as documented).
const MAX_DWELLING: usize = 64;
/// Longest description (as documented).
const MAX_DESCRIPTION: usize = 200;
/// Largest cost of one use, yen (as documented).
const MAX_COST: i64 = 10_000_000;
/// Longest reason of a correction or void (as documented).
const MAX_REASON: usize = 500;
/// Most uses of each kind in one import row (as documented).
pub(super) const MAX_IMPORT_USES: usize = 100;

fn reference(v: &mut Violations, field: &str, raw: &str, max: usize, extra: &[u8]) -> bool {
    let ok =
        !raw.is_empty() && raw.len() <= max && raw.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    if !ok {
        let allowed = if extra.contains(&b'_') { "[0-9A-Za-z_-]" } else { "[0-9A-Za-z-]" };
        v.add(field, format!("required: 1 to {max} characters of {allowed}"));
    }
    ok
}

fn cost(v: &mut Violations, field: &str, yen: i64) -> bool {
    let ok = (1..=MAX_COST).contains(&yen);
    if !ok {
        v.add(field, "must be 1 to 10,000,000 yen");
    }
    ok
}

/// A wire 住宅改修 → its facts, one violation per bad field under `prefix`.
pub(super) fn home_modification(
    v: &mut Violations,
    prefix: &str,
    h: Option<&pb::HomeModification>,
) -> Option<UseFacts> {
    let Some(h) = h else {
        v.add(prefix, "is required");
        return None;
    };
    let ok_ref = reference(v, &format!("{prefix}.claim_reference"), &h.claim_reference, MAX_REFERENCE, b"-");
    let receipt = convert::date(v, &format!("{prefix}.receipt_date"), h.receipt_date.as_ref());
    let ok_cost = cost(v, &format!("{prefix}.cost_yen"), h.cost_yen);
    let ok_dwelling = reference(v, &format!("{prefix}.dwelling_reference"), &h.dwelling_reference, MAX_DWELLING, b"-_");
    let ok_text =
        kaigo_platform::validate::max_chars(v, &format!("{prefix}.description"), &h.description, MAX_DESCRIPTION);
    (ok_ref && ok_cost && ok_dwelling && ok_text).then_some(())?;
    Some(UseFacts {
        kind: UseKind::HomeModification,
        reference: h.claim_reference.clone(),
        receipt: receipt?,
        cost_yen: h.cost_yen,
        dwelling: h.dwelling_reference.clone(),
        description: h.description.clone(),
    })
}

/// A wire 福祉用具購入 → its facts.
pub(super) fn equipment_purchase(
    v: &mut Violations,
    prefix: &str,
    e: Option<&pb::EquipmentPurchase>,
) -> Option<UseFacts> {
    let Some(e) = e else {
        v.add(prefix, "is required");
        return None;
    };
    let ok_ref = reference(v, &format!("{prefix}.claim_reference"), &e.claim_reference, MAX_REFERENCE, b"-");
    let receipt = convert::date(v, &format!("{prefix}.receipt_date"), e.receipt_date.as_ref());
    let ok_cost = cost(v, &format!("{prefix}.cost_yen"), e.cost_yen);
    let ok_text =
        kaigo_platform::validate::max_chars(v, &format!("{prefix}.description"), &e.description, MAX_DESCRIPTION);
    (ok_ref && ok_cost && ok_text).then_some(())?;
    Some(UseFacts {
        kind: UseKind::EquipmentPurchase,
        reference: e.claim_reference.clone(),
        receipt: receipt?,
        cost_yen: e.cost_yen,
        dwelling: String::new(),
        description: e.description.clone(),
    })
}

/// A use id: a decimal number of at most 19 digits.
fn use_id(v: &mut Violations, raw: &str) -> Option<i64> {
    if raw.is_empty() || raw.len() > 19 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        v.add("use_id", "must be a use id: a decimal number of at most 19 digits");
        return None;
    }
    v.check("use_id", raw.parse::<i64>().map_err(|_| "must be a use id"))
}

fn reason(v: &mut Violations, raw: &str) {
    if raw.trim().is_empty() {
        v.add("reason", "is required");
    }
    kaigo_platform::validate::max_chars(v, "reason", raw, MAX_REASON);
}

fn kind_to_wire(kind: UseKind) -> pb::AllowanceKind {
    match kind {
        UseKind::HomeModification => pb::AllowanceKind::HomeModification,
        UseKind::EquipmentPurchase => pb::AllowanceKind::EquipmentPurchase,
    }
}

fn ratio_to_wire(tenths: Option<u8>) -> pb::CopaymentRatio {
    match tenths {
        Some(1) => pb::CopaymentRatio::OneTenth,
        Some(2) => pb::CopaymentRatio::TwoTenths,
        Some(3) => pb::CopaymentRatio::ThreeTenths,
        Some(4) => pb::CopaymentRatio::FourTenths,
        _ => pb::CopaymentRatio::Unspecified,
    }
}

/// A stored use as the wire's AllowanceUse.
pub(crate) fn use_to_wire(row: &Row) -> pb::AllowanceUse {
    use pb::allowance_use::Details;
    let state = convert::state_to_wire(row.state);
    let kind = UseKind::from_code(row.kind);
    let details = kind.map(|kind| match kind {
        UseKind::HomeModification => Details::HomeModification(pb::HomeModification {
            claim_reference: row.claim_reference.clone(),
            receipt_date: Some(from_naive_date(row.receipt_date)),
            cost_yen: row.cost_yen,
            dwelling_reference: row.dwelling_reference.clone(),
            description: row.description.clone(),
        }),
        UseKind::EquipmentPurchase => Details::EquipmentPurchase(pb::EquipmentPurchase {
            claim_reference: row.claim_reference.clone(),
            receipt_date: Some(from_naive_date(row.receipt_date)),
            cost_yen: row.cost_yen,
            description: row.description.clone(),
        }),
    });
    pb::AllowanceUse {
        use_id: row.id.to_string(),
        kind: kind.map_or(pb::AllowanceKind::Unspecified, kind_to_wire) as i32,
        state: state as i32,
        supersedes_use_id: row.supersedes.map(|id| id.to_string()).unwrap_or_default(),
        superseded_by_use_id: row.superseded_by.map(|id| id.to_string()).unwrap_or_default(),
        record_time: Some(prost_types::Timestamp { seconds: row.recorded_at.timestamp(), nanos: 0 }),
        recorded_by: Some(convert::recorded_by(&row.recorded_by_role, &row.recorded_by_subject, &row.recorded_by_org)),
        change_reason: row.change_reason.clone(),
        details,
    }
}

fn status_to_wire(status: Status, view: AllowanceView) -> pb::AllowanceStatus {
    pb::AllowanceStatus {
        kind: kind_to_wire(status.kind) as i32,
        limit_yen: status.limit_yen,
        used_yen: status.used_yen,
        remaining_yen: status.remaining_yen,
        counted_over: status.counted_over.map(|(start, end)| common::Period {
            start: Some(from_naive_date(start)),
            end: Some(from_naive_date(end)),
        }),
        dwelling_reference: status.dwelling,
        lines: status
            .lines
            .into_iter()
            .filter(|line| view == AllowanceView::Uses || !line.reveals_use())
            .map(|line| pb::AllowanceLine {
                code: line.code.to_owned(),
                description: line.description,
                amount_yen: line.amount_yen,
                use_id: line.use_id.map(|id| id.to_string()).unwrap_or_default(),
                date: line.date.map(from_naive_date),
                copayment_ratio: ratio_to_wire(line.copayment_tenths) as i32,
                benefit_yen: line.benefit_yen,
                user_pays_yen: line.user_pays_yen,
            })
            .collect(),
    }
}

/// The shape every use write answers with (the four responses share field numbers 1 and 2).
#[derive(Clone, PartialEq, Message)]
struct UseResponse {
    #[prost(message, optional, tag = "1")]
    allowance_use: Option<pb::AllowanceUse>,
    #[prost(int64, tag = "2")]
    person_version: i64,
}

/// What a use write does once the person is locked.
enum Change {
    Add(UseFacts),
    Correct { use_id: i64, facts: UseFacts, reason: String },
    Void { use_id: i64, reason: String },
}

fn purpose_name(purpose: i32) -> String {
    common::Purpose::try_from(purpose)
        .map(|p| p.as_str_name().to_owned())
        .unwrap_or_else(|_| "PURPOSE_UNSPECIFIED".to_owned())
}

impl Api {
    async fn audit_allowances(
        &self,
        caller: &Caller,
        rpc: &'static str,
        purpose: String,
        key: &PersonKey,
        outcome: &'static str,
    ) {
        let read = ReadRecord {
            rpc,
            category: CATEGORY,
            purpose,
            outcome,
            persons: vec![audit::person(key.insurer(), key.insured())],
            resources: Vec::new(),
        };
        self.inner.auditor.record(caller, read).await;
    }

    /// One use write: validated, authorised, replayed or applied in the person's transaction.
    #[allow(clippy::too_many_arguments)] // one helper for the four writes, whose requests share these fields
    async fn write_use(
        &self,
        caller: &Caller,
        rpc: &'static str,
        request: &impl Message,
        request_id: &str,
        insurer_number: &str,
        insured_number: &str,
        expected_version: i64,
        parse: impl FnOnce(&mut Violations) -> Option<Change>,
    ) -> Result<UseResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", request_id);
        let person_key = convert::key(&mut v, "", insurer_number, insured_number);
        let change = parse(&mut v);
        let (person_key, change) = validated(v, person_key.zip(change))?;
        Self::authorize_write(caller, &person_key)?;
        let key = IdempotencyKey::new(rpc, caller, request_id, request);
        if let Some(stored) = key.replay_as::<UseResponse>(&self.inner.db).await? {
            return Ok(stored);
        }
        let mut tx = self.begin().await?;
        let person = Self::locked_person(&tx, &person_key, expected_version).await?;
        let existing = uses::active(tx.connection(), person.id).await.map_err(errors::db)?;
        let in_use = || {
            ApiError::failed_precondition(
                "CLAIM_REFERENCE_IN_USE",
                "another active use of this allowance has this claim_reference; correct that use instead",
            )
        };
        let row = match change {
            Change::Add(facts) => {
                if rules::reference_in_use(&existing, &facts, None) {
                    return Err(in_use());
                }
                let author = Author { caller, reason: "" };
                uses::insert(&tx, person.id, &facts, None, &author).await.map_err(errors::db)?
            }
            Change::Correct { use_id, facts, reason } => {
                let old = active_use(&tx, person.id, use_id).await?;
                if old.kind != facts.kind.code() {
                    return Err(ApiError::failed_precondition(
                        "CORRECTION_KIND_MISMATCH",
                        "a correction replaces a use with one of the same allowance",
                    ));
                }
                if rules::reference_in_use(&existing, &facts, Some(use_id)) {
                    return Err(in_use());
                }
                let author = Author { caller, reason: &reason };
                let new = uses::insert(&tx, person.id, &facts, Some(use_id), &author).await.map_err(errors::db)?;
                uses::retire(&tx, old, SUPERSEDED, Some(new.id), None).await.map_err(errors::db)?;
                new
            }
            Change::Void { use_id, reason } => {
                let old = active_use(&tx, person.id, use_id).await?;
                uses::retire(&tx, old, VOIDED, None, Some(&reason)).await.map_err(errors::db)?
            }
        };
        let version = tx.touch_person(&person_key, &person).await.map_err(errors::db)?;
        let response = UseResponse { allowance_use: Some(use_to_wire(&row)), person_version: version };
        self.finish(tx, response, &key).await
    }

    pub(super) async fn record_home_modification(
        &self,
        request: tonic::Request<pb::RecordHomeModificationRequest>,
    ) -> Result<pb::RecordHomeModificationResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let UseResponse { allowance_use, person_version } = self
            .write_use(
                &caller,
                "RecordHomeModification",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| home_modification(v, "home_modification", r.home_modification.as_ref()).map(Change::Add),
            )
            .await?;
        Ok(pb::RecordHomeModificationResponse { allowance_use, person_version })
    }

    pub(super) async fn record_equipment_purchase(
        &self,
        request: tonic::Request<pb::RecordEquipmentPurchaseRequest>,
    ) -> Result<pb::RecordEquipmentPurchaseResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let UseResponse { allowance_use, person_version } = self
            .write_use(
                &caller,
                "RecordEquipmentPurchase",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| equipment_purchase(v, "equipment_purchase", r.equipment_purchase.as_ref()).map(Change::Add),
            )
            .await?;
        Ok(pb::RecordEquipmentPurchaseResponse { allowance_use, person_version })
    }

    pub(super) async fn correct_allowance_use(
        &self,
        request: tonic::Request<pb::CorrectAllowanceUseRequest>,
    ) -> Result<pb::CorrectAllowanceUseResponse, ApiError> {
        use pb::correct_allowance_use_request::Replacement as R;
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let UseResponse { allowance_use, person_version } = self
            .write_use(
                &caller,
                "CorrectAllowanceUse",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| {
                    let id = use_id(v, &r.use_id);
                    reason(v, &r.reason);
                    let facts = match &r.replacement {
                        Some(R::HomeModification(h)) => home_modification(v, "home_modification", Some(h)),
                        Some(R::EquipmentPurchase(e)) => equipment_purchase(v, "equipment_purchase", Some(e)),
                        None => {
                            v.add("replacement", "is required: the corrected use, of the same allowance");
                            None
                        }
                    };
                    Some(Change::Correct { use_id: id?, facts: facts?, reason: r.reason.clone() })
                },
            )
            .await?;
        Ok(pb::CorrectAllowanceUseResponse { allowance_use, person_version })
    }

    pub(super) async fn void_allowance_use(
        &self,
        request: tonic::Request<pb::VoidAllowanceUseRequest>,
    ) -> Result<pb::VoidAllowanceUseResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        let r = request.into_inner();
        let UseResponse { allowance_use, person_version } = self
            .write_use(
                &caller,
                "VoidAllowanceUse",
                &r,
                &r.request_id,
                &r.insurer_number,
                &r.insured_number,
                r.expected_version,
                |v| {
                    let id = use_id(v, &r.use_id);
                    reason(v, &r.reason);
                    Some(Change::Void { use_id: id?, reason: r.reason.clone() })
                },
            )
            .await?;
        Ok(pb::VoidAllowanceUseResponse { allowance_use, person_version })
    }

    /// The access decision of these reads (docs/domain/access.md#allowances): the person's
    /// certificates and cost share on `day`, decided on the registry's facts (insurers and
    /// operators on the caller alone); a list of the uses additionally needs a role that sees
    /// them. Permission before existence: an organisation is refused alike whether or not the
    /// person exists.
    async fn decide_allowances(
        &self,
        caller: &Caller,
        key: &PersonKey,
        day: NaiveDate,
        list: bool,
    ) -> Result<AllowanceView, ApiError> {
        let view = rules::view_of(caller.role);
        if list && view == AllowanceView::TotalsOnly {
            return Err(ApiError::permission_denied(
                "ALLOWANCE_CHECK_ONLY",
                "a provider acting for the person checks the remaining allowance (CheckAllowances); the uses are the person's, their insurer's and their care office's",
            ));
        }
        let facts = if needs_facts(caller.role) {
            store::access_facts(&self.inner.db, key).await.map_err(errors::db)?
        } else {
            Facts::default()
        };
        let person = PersonRef::new(key.insurer(), key.insured());
        for category in [Category::InsuranceCertificates, Category::CostShare] {
            self.inner.gate.decide(caller, person, category, day, &facts)?;
        }
        Ok(view)
    }

    pub(super) async fn list_allowance_uses(
        &self,
        request: tonic::Request<pb::ListAllowanceUsesRequest>,
    ) -> Result<pb::ListAllowanceUsesResponse, ApiError> {
        let caller = Caller::from_request(&request)?;
        let r = request.get_ref();
        let mut v = Violations::new();
        let key = convert::key(&mut v, "", &r.insurer_number, &r.insured_number);
        if common::Purpose::try_from(r.purpose).is_err() {
            v.add("purpose", "is not a known purpose");
        }
        let key = validated(v, key)?;
        let purpose = purpose_name(r.purpose);
        let rpc = "ListAllowanceUses";
        let today = self.inner.clock.today_jst();
        if let Err(denied) = self.decide_allowances(caller, &key, today, true).await {
            if denied.code() == tonic::Code::PermissionDenied {
                self.audit_allowances(caller, rpc, purpose, &key, audit::DENIED).await;
            }
            return Err(denied);
        }
        let db = &self.inner.db;
        let Some(person) = store::find_person(db, &key).await.map_err(errors::db)? else {
            self.audit_allowances(caller, rpc, purpose, &key, audit::NOT_FOUND).await;
            return Err(ApiError::not_found("PERSON_NOT_FOUND", "no such insured person at this insurer"));
        };
        let rows = uses::all(db, person.id).await.map_err(errors::db)?;
        let allowance_uses =
            rows.iter().filter(|row| r.include_inactive || row.state == ACTIVE).map(use_to_wire).collect();
        self.audit_allowances(caller, rpc, purpose, &key, audit::ALLOWED).await;
        Ok(pb::ListAllowanceUsesResponse { allowance_uses, person_version: person.version })
    }

    pub(super) async fn check_allowances(
        &self,
        request: tonic::Request<pb::CheckAllowancesRequest>,
    ) -> Result<pb::CheckAllowancesResponse, ApiError> {
        let caller = Caller::from_request(&request)?;
        let r = request.get_ref();
        let mut v = Violations::new();
        let key = convert::key(&mut v, "", &r.insurer_number, &r.insured_number);
        let as_of = match r.as_of.as_ref() {
            None => Some(self.inner.clock.today_jst()),
            Some(d) => v.check("as_of", kaigo_proto::to_naive_date(d)),
        };
        if !r.dwelling_reference.is_empty() {
            reference(&mut v, "dwelling_reference", &r.dwelling_reference, MAX_DWELLING, b"-_");
        }
        if common::Purpose::try_from(r.purpose).is_err() {
            v.add("purpose", "is not a known purpose");
        }
        let (key, as_of) = validated(v, key.zip(as_of))?;
        let purpose = purpose_name(r.purpose);
        let rpc = "CheckAllowances";
        let view = match self.decide_allowances(caller, &key, as_of, false).await {
            Ok(view) => view,
            Err(denied) => {
                if denied.code() == tonic::Code::PermissionDenied {
                    self.audit_allowances(caller, rpc, purpose, &key, audit::DENIED).await;
                }
                return Err(denied);
            }
        };
        let db = &self.inner.db;
        let Some((timeline, _)) = store::timeline(db, &key).await.map_err(errors::db)? else {
            self.audit_allowances(caller, rpc, purpose, &key, audit::NOT_FOUND).await;
            return Err(ApiError::not_found("PERSON_NOT_FOUND", "no such insured person at this insurer"));
        };
        let person = store::find_person(db, &key).await.map_err(errors::db)?;
        let active = match person {
            Some(p) => uses::active(db, p.id).await.map_err(errors::db)?,
            None => Vec::new(),
        };
        let settings = &self.inner.allowances;
        let dwelling = (!r.dwelling_reference.is_empty()).then_some(r.dwelling_reference.as_str());
        let home = rules::home_modification(&active, &timeline, as_of, dwelling, settings);
        let purchase = rules::equipment_purchase(&active, &timeline, as_of, settings);
        self.audit_allowances(caller, rpc, purpose, &key, audit::ALLOWED).await;
        Ok(pb::CheckAllowancesResponse {
            home_modification: Some(status_to_wire(home, view)),
            equipment_purchase: Some(status_to_wire(purchase, view)),
            uses_withheld: view == AllowanceView::TotalsOnly,
            as_of: Some(from_naive_date(as_of)),
        })
    }
}

async fn active_use(tx: &crate::store::WriteTx, person_id: i64, use_id: i64) -> Result<Row, ApiError> {
    let row = uses::one(tx.connection(), person_id, use_id)
        .await
        .map_err(errors::db)?
        .ok_or_else(|| ApiError::not_found("USE_NOT_FOUND", "no such allowance use for this person"))?;
    if row.state != ACTIVE {
        return Err(ApiError::failed_precondition(
            "USE_NOT_ACTIVE",
            "the use was superseded or voided; act on its successor",
        ));
    }
    Ok(row)
}
