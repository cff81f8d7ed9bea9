//! The compact binary form of a timeline kept in Redis (L2).
//!
//! Protobuf varints over day numbers and small codes: an insured person who is not certified
//! takes about ten bytes, a certified one with a ratio and a care office well under a hundred.
//! Names, the birth date and sex travel only sealed ([`seal_details`]: AES-256-GCM under a key
//! derived from the internal secret, bound to the person's field), so Redis, its dumps and
//! replicas never hold them readable; without a sealing key they are not cached in Redis at
//! all and are read from the database for the callers allowed to see them.
//!
//! The person's access facts (registrations and consents, docs/domain/access.md#facts-copy)
//! travel in the same value ([`encode_entry`], [`decode_entry`]), so a check decides who may
//! see it without another lookup. A value written without them (by [`encode`], or by an older
//! build) is not an answer for a check: [`decode_entry`] returns no facts and the cache treats
//! it as a miss.

use chrono::NaiveDate;
use prost::Message;

use std::collections::BTreeSet;

use kaigo_platform::access::{Category, Consent, Facts, Grantee, OrganizationKind, Registration};
use kaigo_platform::seal::Sealer;

use crate::domain::caps::national_caps;
use crate::domain::timeline::{CostStage, DailyCaps, RestrictionKind, ServiceTypeLimit};
use crate::domain::{CareLevel, Detail, PersonCore, Record, Timeline};
use crate::store::PersonDetails;

#[derive(Clone, PartialEq, Message)]
struct Packed {
    #[prost(uint32, tag = "1")]
    category: u32,
    #[prost(sint32, tag = "2")]
    acquired: i32,
    #[prost(sint32, tag = "3")]
    lost: i32,
    #[prost(int64, tag = "4")]
    version: i64,
    #[prost(int64, tag = "5")]
    changed_at: i64,
    #[prost(message, repeated, tag = "6")]
    records: Vec<PackedRecord>,
    /// True when the access facts below were loaded with the timeline (an empty list then
    /// means "none"); false in values written without them.
    #[prost(bool, tag = "15")]
    access: bool,
    #[prost(message, repeated, tag = "16")]
    registrations: Vec<PackedRegistration>,
    #[prost(message, repeated, tag = "17")]
    consents: Vec<PackedConsent>,
    /// The person's unrevoked identity links (docs/domain/access.md#own-view); absent in values
    /// written before links were carried, which then decode with none (a link's event drops
    /// the person's entry, so the next read loads them).
    #[prost(string, repeated, tag = "18")]
    links: Vec<String>,
    /// The access facts' stamp (`Facts::stamp`): how far the service's copy of the registry's
    /// facts had come for the person when they were read. 0 in values written before it was
    /// carried (older than any change since).
    #[prost(int64, tag = "19")]
    facts_stamp: i64,
    /// The person's names, birth date and sex, sealed ([`seal_details`]); empty when the
    /// value was written without them (by a process without a sealing key, or by an older
    /// build): the details are then read from the database.
    #[prost(bytes = "vec", tag = "40")]
    sealed_details: Vec<u8>,
}

/// The personal details inside [`Packed::sealed_details`], before sealing.
#[derive(Clone, PartialEq, Message)]
struct PackedDetails {
    #[prost(string, tag = "1")]
    name_kanji: String,
    #[prost(string, tag = "2")]
    name_kana: String,
    /// Day number; 0 when unknown.
    #[prost(sint32, tag = "3")]
    birth: i32,
    #[prost(sint32, tag = "4")]
    sex: i32,
}

/// A registration of the access facts.
#[derive(Clone, PartialEq, Message)]
struct PackedRegistration {
    /// Index in [`KINDS`].
    #[prost(uint32, tag = "1")]
    kind: u32,
    #[prost(string, tag = "2")]
    organization: String,
    #[prost(sint32, tag = "3")]
    start: i32,
    /// Day number of the end; 0 while active.
    #[prost(sint32, tag = "4")]
    end: i32,
}

/// A consent of the access facts.
#[derive(Clone, PartialEq, Message)]
struct PackedConsent {
    /// The organisation's number; empty for a consent to a kind.
    #[prost(string, tag = "1")]
    organization: String,
    /// Index in [`KINDS`] plus one for a consent to a kind; 0 for one organisation.
    #[prost(uint32, tag = "2")]
    kind: u32,
    /// Bit `i` set: `Category::ALL[i]` is covered.
    #[prost(uint32, tag = "3")]
    categories: u32,
    #[prost(sint32, tag = "4")]
    valid_from: i32,
    #[prost(sint32, tag = "5")]
    valid_until: i32,
    #[prost(sint32, tag = "6")]
    withdrawn_on: i32,
}

const KINDS: [OrganizationKind; 3] = OrganizationKind::ALL;

fn pack_facts(facts: &Facts) -> (Vec<PackedRegistration>, Vec<PackedConsent>) {
    let registrations = facts
        .registrations
        .iter()
        .map(|r| PackedRegistration {
            kind: index_of(&KINDS, &r.kind),
            organization: r.organization.clone(),
            start: day(Some(r.start)),
            end: day(r.end),
        })
        .collect();
    let consents = facts
        .consents
        .iter()
        .map(|c| {
            let (organization, kind) = match &c.grantee {
                Grantee::Organization(number) => (number.clone(), 0),
                Grantee::Kind(kind) => (String::new(), index_of(&KINDS, kind) + 1),
            };
            let categories = Category::ALL
                .iter()
                .enumerate()
                .filter(|(_, category)| c.categories.contains(category))
                .fold(0u32, |bits, (i, _)| bits | (1 << i));
            PackedConsent {
                organization,
                kind,
                categories,
                valid_from: day(Some(c.valid_from)),
                valid_until: day(c.valid_until),
                withdrawn_on: day(c.withdrawn_on),
            }
        })
        .collect();
    (registrations, consents)
}

fn unpack_facts(
    registrations: Vec<PackedRegistration>,
    consents: Vec<PackedConsent>,
    links: Vec<String>,
) -> Option<Facts> {
    let registrations = registrations
        .into_iter()
        .map(|r| {
            Some(Registration {
                organization: r.organization,
                kind: *KINDS.get(usize::try_from(r.kind).ok()?)?,
                start: date(r.start)?,
                end: date(r.end),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let consents = consents
        .into_iter()
        .map(|c| {
            let grantee = match c.kind {
                0 => Grantee::Organization(c.organization),
                k => Grantee::Kind(*KINDS.get(usize::try_from(k - 1).ok()?)?),
            };
            let categories: BTreeSet<Category> = Category::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| c.categories & (1 << i) != 0)
                .map(|(_, category)| *category)
                .collect();
            Some(Consent {
                grantee,
                categories,
                valid_from: date(c.valid_from)?,
                valid_until: date(c.valid_until),
                withdrawn_on: date(c.withdrawn_on),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Facts { registrations, consents, links, stamp: 0 })
}

#[derive(Clone, PartialEq, Message)]
struct PackedRecord {
    #[prost(uint32, tag = "2")]
    kind: u32,
    /// Day number (see [`day`]).
    #[prost(sint32, tag = "3")]
    start: i32,
    /// Days from start to end plus one; 0 while open.
    #[prost(uint32, tag = "4")]
    length: u32,
    /// Level / tenths / stage / restriction kind / care-management kind.
    #[prost(uint32, tag = "5")]
    code: u32,
    /// Certified date / notification date (day numbers), reduced percent.
    #[prost(sint32, tag = "6")]
    second: i32,
    #[prost(uint32, tag = "7")]
    units: u32,
    #[prost(string, tag = "8")]
    text1: String,
    #[prost(string, tag = "9")]
    text2: String,
    #[prost(string, repeated, tag = "10")]
    list: Vec<String>,
    /// Daily caps, only where they differ from the national caps of the stage on `start`.
    #[prost(uint32, repeated, tag = "11")]
    caps: Vec<u32>,
    /// 種類支給限度基準額: the service types, and their caps at the same index.
    #[prost(string, repeated, tag = "12")]
    limit_types: Vec<String>,
    #[prost(uint32, repeated, tag = "13")]
    limit_units: Vec<u32>,
}

/// 1999-12-31 in chrono's day count from 0001-01-01. Insurance began on 2000-04-01, so day
/// numbers from here stay small (two varint bytes until 2044).
const EPOCH: i32 = 730_119;

/// A date as a small signed day number; 0 means no date.
fn day(date: Option<NaiveDate>) -> i32 {
    use chrono::Datelike;
    match date {
        None => 0,
        Some(d) => {
            let n = d.num_days_from_ce() - EPOCH;
            if n > 0 { n } else { n - 1 }
        }
    }
}

fn date(n: i32) -> Option<NaiveDate> {
    let offset = match n {
        0 => return None,
        n if n > 0 => n,
        n => n + 1,
    };
    NaiveDate::from_num_days_from_ce_opt(offset + EPOCH)
}

const LEVELS: [CareLevel; 10] = [
    CareLevel::NotApplicable,
    CareLevel::Transitional,
    CareLevel::Support1,
    CareLevel::Support2,
    CareLevel::Care1,
    CareLevel::Care2,
    CareLevel::Care3,
    CareLevel::Care4,
    CareLevel::Care5,
    CareLevel::ProgrammeEligible,
];
const STAGES: [CostStage; 4] = [CostStage::First, CostStage::Second, CostStage::Third1, CostStage::Third2];
const RESTRICTIONS: [RestrictionKind; 3] =
    [RestrictionKind::PaymentMethodChange, RestrictionKind::PaymentSuspension, RestrictionKind::BenefitReduction];

fn index_of<T: PartialEq>(all: &[T], value: &T) -> u32 {
    all.iter().position(|v| v == value).unwrap_or(0) as u32
}

fn pack_record(r: &Record) -> PackedRecord {
    let length = r.end.map_or(0, |end| u32::try_from((end - r.start).num_days() + 1).unwrap_or(0));
    let mut p = PackedRecord { start: day(Some(r.start)), length, ..Default::default() };
    match &r.detail {
        Detail::Certification {
            level,
            certified,
            limit_units,
            board_opinion,
            designated_service_types,
            service_type_limits,
            application_id,
        } => {
            p.kind = 1;
            p.code = index_of(&LEVELS, level);
            p.second = day(Some(*certified));
            p.units = *limit_units;
            p.text1.clone_from(board_opinion);
            p.text2.clone_from(application_id);
            p.list.clone_from(designated_service_types);
            p.limit_types = service_type_limits.iter().map(|l| l.service_type.clone()).collect();
            p.limit_units = service_type_limits.iter().map(|l| l.units).collect();
        }
        Detail::Copayment { tenths } => {
            p.kind = 2;
            p.code = u32::from(*tenths);
        }
        Detail::CostLimit { stage, caps } => {
            p.kind = 3;
            p.code = index_of(&STAGES, stage);
            if Some(*caps) == national_caps(*stage, r.start) {
                return p;
            }
            p.caps = vec![
                caps.meal_facility,
                caps.meal_short_stay,
                caps.unit_private,
                caps.unit_semi_private,
                caps.conventional_private_welfare,
                caps.conventional_private_health,
                caps.multi_bed,
            ];
        }
        Detail::BenefitRestriction { kind, reduced_copayment_percent, note } => {
            p.kind = 4;
            p.code = index_of(&RESTRICTIONS, kind);
            p.second = i32::from(*reduced_copayment_percent);
            p.text1.clone_from(note);
        }
        Detail::ResidenceException { facility_municipality, facility_name } => {
            p.kind = 5;
            p.text1.clone_from(facility_municipality);
            p.text2.clone_from(facility_name);
        }
        Detail::CareManagement { kind, office_number, office_name, notified } => {
            p.kind = 6;
            p.code = u32::from(*kind);
            p.second = day(*notified);
            p.text1.clone_from(office_number);
            p.text2.clone_from(office_name);
        }
        // A qualification span: its dates and reason codes only, nothing derived from the
        // birth date (the category on a date is computed when answering).
        Detail::Qualification { acquisition, loss } => {
            p.kind = 7;
            p.code = u32::from(*acquisition);
            p.second = i32::from(*loss);
        }
    }
    p
}

fn unpack_record(p: PackedRecord) -> Option<Record> {
    let code = usize::try_from(p.code).ok()?;
    let start = date(p.start)?;
    let detail = match p.kind {
        1 => Detail::Certification {
            level: *LEVELS.get(code)?,
            certified: date(p.second)?,
            limit_units: p.units,
            board_opinion: p.text1,
            designated_service_types: p.list,
            service_type_limits: if p.limit_types.len() == p.limit_units.len() {
                p.limit_types
                    .into_iter()
                    .zip(p.limit_units)
                    .map(|(service_type, units)| ServiceTypeLimit { service_type, units })
                    .collect()
            } else {
                return None;
            },
            application_id: p.text2,
        },
        2 => Detail::Copayment { tenths: u8::try_from(p.code).ok()? },
        3 => {
            let stage = *STAGES.get(code)?;
            let c = p.caps;
            if c.is_empty() {
                Detail::CostLimit { stage, caps: national_caps(stage, start)? }
            } else if c.len() != 7 {
                return None;
            } else {
                Detail::CostLimit {
                    stage,
                    caps: DailyCaps {
                        meal_facility: c[0],
                        meal_short_stay: c[1],
                        unit_private: c[2],
                        unit_semi_private: c[3],
                        conventional_private_welfare: c[4],
                        conventional_private_health: c[5],
                        multi_bed: c[6],
                    },
                }
            }
        }
        4 => Detail::BenefitRestriction {
            kind: *RESTRICTIONS.get(code)?,
            reduced_copayment_percent: u8::try_from(p.second).ok()?,
            note: p.text1,
        },
        5 => Detail::ResidenceException { facility_municipality: p.text1, facility_name: p.text2 },
        6 => Detail::CareManagement {
            kind: u8::try_from(p.code).ok()?,
            office_number: p.text1,
            office_name: p.text2,
            notified: date(p.second),
        },
        7 => Detail::Qualification { acquisition: u8::try_from(p.code).ok()?, loss: u8::try_from(p.second).ok()? },
        _ => return None,
    };
    let end = match p.length {
        0 => None,
        n => Some(start + chrono::Duration::days(i64::from(n) - 1)),
    };
    // Record ids are not cached: checks never show them, and writes read the database.
    Some(Record { id: 0, start, end, detail })
}

fn pack(timeline: &Timeline) -> Packed {
    Packed {
        category: u32::from(timeline.person.category),
        acquired: day(timeline.person.acquired),
        lost: day(timeline.person.lost),
        version: timeline.person.version,
        changed_at: timeline.person.changed_at,
        records: timeline.records.iter().map(pack_record).collect(),
        ..Default::default()
    }
}

/// Encodes a timeline for Redis, without access facts (not an answer for a check).
pub fn encode(timeline: &Timeline) -> Vec<u8> {
    pack(timeline).encode_to_vec()
}

/// Encodes a timeline and the person's access facts for Redis.
pub fn encode_entry(timeline: &Timeline, facts: &Facts) -> Vec<u8> {
    encode_full(timeline, facts, Vec::new())
}

/// Encodes a timeline, the person's access facts and their sealed personal details
/// ([`seal_details`]) for Redis.
pub fn encode_full(timeline: &Timeline, facts: &Facts, sealed_details: Vec<u8>) -> Vec<u8> {
    let mut p = pack(timeline);
    p.access = true;
    (p.registrations, p.consents) = pack_facts(facts);
    p.links = facts.links.clone();
    p.facts_stamp = facts.stamp;
    p.sealed_details = sealed_details;
    p.encode_to_vec()
}

/// `details` sealed for the cache field `field` (the person's key): only a process holding
/// the sealing key reads names and the birth date back, and only under that field.
pub fn seal_details(sealer: &Sealer, field: &[u8], details: &PersonDetails) -> Vec<u8> {
    let packed = PackedDetails {
        name_kanji: details.name_kanji.clone(),
        name_kana: details.name_kana.clone(),
        birth: day(details.birth_date),
        sex: i32::from(details.sex),
    };
    sealer.seal(field, &packed.encode_to_vec())
}

/// The personal details sealed in a value, if there are any and they open for `field`.
pub fn open_details(sealer: &Sealer, field: &[u8], sealed: &[u8]) -> Option<PersonDetails> {
    if sealed.is_empty() {
        return None;
    }
    let packed = PackedDetails::decode(sealer.open(field, sealed)?.as_slice()).ok()?;
    Some(PersonDetails {
        name_kanji: packed.name_kanji,
        name_kana: packed.name_kana,
        birth_date: date(packed.birth),
        sex: i16::try_from(packed.sex).ok()?,
    })
}

/// A decoded Redis value: the timeline, the access facts when the value holds them, and the
/// sealed personal details (empty when none).
pub struct DecodedEntry {
    /// The timeline.
    pub timeline: Timeline,
    /// The access facts; `None` in values written without them.
    pub facts: Option<Facts>,
    /// The sealed personal details, for [`open_details`].
    pub sealed_details: Vec<u8>,
}

/// Decodes a timeline from Redis; `None` when the bytes are not one (treated as a miss).
pub fn decode(bytes: &[u8]) -> Option<Timeline> {
    decode_entry(bytes).map(|(timeline, _)| timeline)
}

/// Decodes a timeline and, when the value holds them, the person's access facts.
pub fn decode_entry(bytes: &[u8]) -> Option<(Timeline, Option<Facts>)> {
    decode_full(bytes).map(|d| (d.timeline, d.facts))
}

/// How new a stored value (or a tombstone) is, in the two ways it can be outdated: the
/// person's version (a write of the person raises it) and the stamp of the access facts it was
/// read with (a change of the facts raises it, `Facts::stamp`). The two grow independently, so
/// one value is older than another when either is lower; L2's scripts compare both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Versions {
    /// The person's version.
    pub person: i64,
    /// The access facts' stamp.
    pub facts: i64,
}

/// The field numbers [`versions_of`] reads (and L2's scripts, which must match).
const VERSION_TAG: u32 = 4;
const FACTS_STAMP_TAG: u32 = 19;

/// The versions in a value, reading nothing else (the outbox consumer compares them with an
/// event's); `None` when the bytes are not a well-formed value. A field left out (protobuf
/// leaves defaults out) reads 0, which no stored person and no change of the facts has.
pub fn versions_of(bytes: &[u8]) -> Option<Versions> {
    use prost::encoding::{WireType, decode_key, decode_varint};
    let mut buf = bytes;
    let mut at = Versions::default();
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).ok()?;
        // `buf` advances past what each arm reads; other fields are skipped without decoding.
        match wire_type {
            WireType::Varint => {
                let value = decode_varint(&mut buf).ok()?;
                #[allow(clippy::cast_possible_wrap)] // int64 travels as its two's complement
                match tag {
                    VERSION_TAG => at.person = value as i64,
                    FACTS_STAMP_TAG => at.facts = value as i64,
                    _ => {}
                }
            }
            WireType::LengthDelimited => {
                let len = usize::try_from(decode_varint(&mut buf).ok()?).ok()?;
                buf = buf.get(len..)?;
            }
            WireType::SixtyFourBit => buf = buf.get(8..)?,
            WireType::ThirtyTwoBit => buf = buf.get(4..)?,
            WireType::StartGroup | WireType::EndGroup => return None,
        }
    }
    Some(at)
}

/// The person's version in a value ([`versions_of`]).
pub fn version_of(bytes: &[u8]) -> Option<i64> {
    versions_of(bytes).map(|at| at.person)
}

/// A tombstone at `at`: what an invalidation leaves in a field instead of deleting it
/// (crate::cache's L2). It holds the versions and nothing else, so every reader takes it for a
/// miss (no access facts: not an answer for a check, in this build and the ones before) while
/// L2's scripts read its versions like a value's and refuse to write anything older over it.
/// (L2's tombstone script builds the same bytes in Redis.)
pub fn tombstone(at: Versions) -> Vec<u8> {
    Packed { version: at.person, facts_stamp: at.facts, ..Default::default() }.encode_to_vec()
}

/// Decodes everything a value holds.
pub fn decode_full(bytes: &[u8]) -> Option<DecodedEntry> {
    let p = Packed::decode(bytes).ok()?;
    let sealed_details = p.sealed_details;
    let facts = if p.access {
        Some(Facts { stamp: p.facts_stamp, ..unpack_facts(p.registrations, p.consents, p.links)? })
    } else {
        None
    };
    let records = p.records.into_iter().map(unpack_record).collect::<Option<Vec<_>>>()?;
    let timeline = Timeline {
        person: PersonCore {
            category: u8::try_from(p.category).ok()?,
            acquired: date(p.acquired),
            lost: date(p.lost),
            version: p.version,
            changed_at: p.changed_at,
        },
        records,
    };
    Some(DecodedEntry { timeline, facts, sealed_details })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn certified() -> Timeline {
        Timeline {
            person: PersonCore {
                category: 1,
                acquired: Some(d(2019, 5, 3)),
                lost: None,
                version: 7,
                changed_at: 1_760_000_000,
            },
            records: vec![
                Record {
                    id: 11,
                    start: d(2025, 4, 1),
                    end: Some(d(2026, 3, 31)),
                    detail: Detail::Certification {
                        level: CareLevel::Care3,
                        certified: d(2025, 3, 20),
                        limit_units: 27_048,
                        board_opinion: String::new(),
                        designated_service_types: vec![],
                        service_type_limits: vec![],
                        application_id: String::new(),
                    },
                },
                Record {
                    id: 12,
                    start: d(2025, 8, 1),
                    end: Some(d(2026, 7, 31)),
                    detail: Detail::Copayment { tenths: 2 },
                },
                Record {
                    id: 13,
                    start: d(2025, 8, 1),
                    end: Some(d(2026, 7, 31)),
                    detail: Detail::CostLimit {
                        stage: CostStage::Third1,
                        caps: national_caps(CostStage::Third1, d(2025, 8, 1)).unwrap(),
                    },
                },
                Record {
                    id: 14,
                    start: d(2025, 4, 1),
                    end: None,
                    detail: Detail::CareManagement {
                        kind: 1,
                        office_number: "0300000106".into(),
                        office_name: String::new(),
                        notified: Some(d(2025, 3, 25)),
                    },
                },
            ],
        }
    }

    #[test]
    fn round_trips_every_kind() {
        let mut t = certified();
        for r in &mut t.records {
            r.id = 0;
        }
        assert_eq!(decode(&encode(&t)), Some(t.clone()));
        // Dates before the epoch and municipal caps survive too.
        t.person.acquired = Some(d(1999, 12, 31));
        if let Detail::CostLimit { caps, .. } = &mut t.records[2].detail {
            caps.meal_facility = 310;
        }
        assert_eq!(decode(&encode(&t)), Some(t.clone()));
        // What a write keeps is what the cache gives back: per-type caps, the application and a
        // restriction's wording.
        if let Detail::Certification { service_type_limits, application_id, .. } = &mut t.records[0].detail {
            *service_type_limits = vec![
                ServiceTypeLimit { service_type: "11".into(), units: 12_000 },
                ServiceTypeLimit { service_type: "15".into(), units: 8_000 },
            ];
            *application_id = "0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00".into();
        }
        t.records.push(Record {
            id: 0,
            start: d(2025, 10, 1),
            end: None,
            detail: Detail::BenefitRestriction {
                kind: RestrictionKind::BenefitReduction,
                reduced_copayment_percent: 30,
                note: "給付額減額 (保険料未納)".into(),
            },
        });
        assert_eq!(decode(&encode(&t)), Some(t.clone()));
        // Qualification spans: two, moved away (転出) and back (転入); the dates and codes only.
        t.records.push(Record {
            id: 0,
            start: d(2019, 5, 3),
            end: Some(d(2022, 9, 30)),
            detail: Detail::Qualification { acquisition: 2, loss: 1 },
        });
        t.records.push(Record {
            id: 0,
            start: d(2024, 1, 15),
            end: None,
            detail: Detail::Qualification { acquisition: 1, loss: 0 },
        });
        let before = encode(&Timeline { records: t.records[..t.records.len() - 2].to_vec(), ..t.clone() }).len();
        assert!(encode(&t).len() - before <= 28, "two spans, about a dozen bytes each: {}", encode(&t).len() - before);
        assert_eq!(decode(&encode(&t)), Some(t));
    }

    #[test]
    fn an_uncertified_person_takes_about_ten_bytes_and_a_certified_one_under_a_hundred() {
        let plain = Timeline { records: vec![], ..certified() };
        assert!(encode(&plain).len() <= 16, "{}", encode(&plain).len());
        assert!(encode(&certified()).len() < 100, "{}", encode(&certified()).len());
    }

    #[test]
    fn access_facts_round_trip_and_a_value_without_them_says_so() {
        let mut t = certified();
        for r in &mut t.records {
            r.id = 0;
        }
        let facts = Facts {
            registrations: vec![Registration {
                organization: "0300000106".into(),
                kind: OrganizationKind::CareOffice,
                start: d(2025, 4, 1),
                end: Some(d(2026, 4, 1)),
            }],
            consents: vec![
                Consent {
                    grantee: Grantee::Organization("0300000106".into()),
                    categories: [Category::InsuranceCertificates, Category::CarePlan].into_iter().collect(),
                    valid_from: d(2025, 4, 1),
                    valid_until: Some(d(2027, 3, 31)),
                    withdrawn_on: None,
                },
                Consent {
                    grantee: Grantee::Kind(OrganizationKind::MedicalInstitution),
                    categories: [Category::InsuranceCertificates].into_iter().collect(),
                    valid_from: d(2025, 4, 1),
                    valid_until: None,
                    withdrawn_on: Some(d(2025, 9, 1)),
                },
            ],
            links: vec!["d000000001".into()],
            stamp: 9,
        };
        assert_eq!(decode_entry(&encode_entry(&t, &facts)), Some((t.clone(), Some(facts.clone()))));
        // No facts is not the same as facts not loaded.
        assert_eq!(decode_entry(&encode_entry(&t, &Facts::default())), Some((t.clone(), Some(Facts::default()))));
        assert_eq!(decode_entry(&encode(&t)), Some((t.clone(), None)));
        // The timeline alone still decodes from a value with facts.
        assert_eq!(decode(&encode_entry(&t, &facts)), Some(t.clone()));
        // A registration and two consents add about 25 bytes each, a link about a dozen.
        let added = encode_entry(&t, &facts).len() - encode(&t).len();
        assert!(added < 102, "{added}");
        // A value written before links were carried still decodes, with none.
        let mut old = Packed::decode(encode_entry(&t, &facts).as_slice()).unwrap();
        old.links.clear();
        let without_links = Facts { links: vec![], ..facts.clone() };
        assert_eq!(decode_entry(&old.encode_to_vec()), Some((t.clone(), Some(without_links))));
        // One written before the stamp was carried decodes with stamp 0: older than any change.
        old.facts_stamp = 0;
        let unstamped = decode_entry(&old.encode_to_vec()).unwrap().1.unwrap();
        assert_eq!(unstamped.stamp, 0);
    }

    #[test]
    fn a_tombstone_holds_its_versions_and_is_no_answer() {
        for person in [0, 1, 2, 300, i64::from(u32::MAX) + 7] {
            for facts in [0, 1, 130, i64::from(u32::MAX) + 9] {
                let at = Versions { person, facts };
                let tombstone = tombstone(at);
                assert_eq!(versions_of(&tombstone), Some(at));
                let decoded = decode_full(&tombstone).expect("a tombstone decodes");
                assert!(decoded.facts.is_none(), "no access facts: every reader takes it for a miss");
                assert!(decoded.timeline.records.is_empty());
            }
        }
        // The bytes L2's tombstone script writes: field 4 then field 19, zeros left out.
        assert_eq!(tombstone(Versions { person: 5, facts: 0 }), vec![0x20, 5]);
        assert_eq!(tombstone(Versions { person: 0, facts: 200 }), vec![0x98, 0x01, 0xc8, 0x01]);
        assert_eq!(tombstone(Versions { person: 1, facts: 2 }), vec![0x20, 1, 0x98, 0x01, 2]);
    }

    #[test]
    fn the_versions_read_alone_as_the_full_decoder_reads_them() {
        let mut timeline = certified();
        for version in [1, 7, 300, i64::from(i32::MAX) + 5] {
            timeline.person.version = version;
            let facts = Facts { stamp: version * 3, ..Facts::default() };
            for bytes in [encode_entry(&timeline, &facts), encode_full(&timeline, &facts, vec![9; 40])] {
                assert_eq!(versions_of(&bytes), Some(Versions { person: version, facts: version * 3 }));
                let decoded = decode_full(&bytes).unwrap();
                assert_eq!(decoded.timeline.person.version, version);
                assert_eq!(decoded.facts.map(|f| f.stamp), Some(version * 3));
            }
            assert_eq!(versions_of(&encode(&timeline)), Some(Versions { person: version, facts: 0 }));
        }
        timeline.person.version = 0;
        assert_eq!(version_of(&encode(&timeline)), Some(0), "a default version is left out: 0");
        assert_eq!(version_of(&[]), Some(0));
        assert_eq!(version_of(&[0x08]), None, "a varint cut short");
        assert_eq!(version_of(&[0x0a, 0x05, 1]), None, "a length past the end");
    }

    #[test]
    fn garbage_is_a_miss_not_a_panic() {
        assert_eq!(decode(&[0xff, 0xff, 0xff]), None);
    }
}
