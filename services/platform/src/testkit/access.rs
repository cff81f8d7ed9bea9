//! Putting access facts into a service's copy in tests, through the real path: each helper
//! builds the registry's event (`registry.registration_changed` / `registry.consent_changed` /
//! `registry.identity_link_changed`, the whole new version), publishes it on the service's bus so that the service's own
//! consumer applies it (and calls its hook: caches dropped), and waits until the copy holds
//! that version (docs/domain/access.md#facts-copy).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_access::{Category, OrganizationKind};
use kaigo_proto::kaigo::registry::v1 as pb;
use prost::Message;
use sea_orm::DatabaseConnection;

pub use crate::access::wire::{category_message, kind_message};
use crate::access::{
    TOPIC_CONSENT_CHANGED, TOPIC_IDENTITY_LINK_CHANGED, TOPIC_REGISTRATION_CHANGED, consent_version,
    identity_link_version, registration_version,
};
use crate::events::{Bus, Event};

/// Where a test's facts go: the service's bus (its running access consumer applies them) and
/// its database (to wait until they are applied).
#[derive(Clone)]
pub struct Feed {
    /// The service's bus.
    pub bus: Bus,
    /// The service's own connection.
    pub db: DatabaseConnection,
}

impl Feed {
    /// The feed of a service started on `ctx`.
    pub fn of(ctx: &crate::service::ServiceContext) -> Self {
        Self { bus: ctx.bus.clone(), db: ctx.db.clone() }
    }
}

/// Sets a message's timestamp field to `at` (whole seconds). A macro, so that the
/// platform need not name the timestamp type.
macro_rules! set_time {
    ($slot:expr, $at:expr) => {{
        let t = $slot.get_or_insert_with(Default::default);
        t.seconds = $at.timestamp();
        t.nanos = 0;
    }};
}

fn person_ref(insurer: &str, insured: &str) -> pb::PersonRef {
    pb::PersonRef { insurer_number: insurer.to_owned(), insured_number: insured.to_owned() }
}

/// The event the registry would publish.
pub fn event(topic: &str, key: &str, payload: Vec<u8>) -> Event {
    Event {
        id: uuid::Uuid::now_v7().to_string(),
        topic: topic.to_owned(),
        key: key.to_owned(),
        payload,
        trace: Vec::new(),
        created_at: Utc::now(),
    }
}

/// A new registration (version 1) of `org` (`kind`) for the person from `start`.
pub fn registration(
    kind: OrganizationKind,
    org: &str,
    insurer: &str,
    insured: &str,
    start: NaiveDate,
) -> pb::Registration {
    let mut r = pb::Registration {
        registration_id: uuid::Uuid::new_v4().to_string(),
        version: 1,
        organization: Some(pb::Organization { kind: kind_message(kind) as i32, number: org.to_owned() }),
        person: Some(person_ref(insurer, insured)),
        start_date: Some(kaigo_proto::from_naive_date(start)),
        evidence: pb::Evidence::InsurerManual as i32,
        ..Default::default()
    };
    set_time!(r.create_time, Utc::now());
    r
}

/// A new consent (version 1) of the person to `org` for `categories` from `valid_from`.
pub fn consent_to(
    kind: OrganizationKind,
    org: &str,
    insurer: &str,
    insured: &str,
    categories: &[Category],
    valid_from: NaiveDate,
) -> pb::Consent {
    let mut c = pb::Consent {
        consent_id: uuid::Uuid::new_v4().to_string(),
        version: 1,
        person: Some(person_ref(insurer, insured)),
        grantee: Some(pb::Grantee {
            grantee: Some(pb::grantee::Grantee::Organization(pb::Organization {
                kind: kind_message(kind) as i32,
                number: org.to_owned(),
            })),
        }),
        categories: categories.iter().map(|c| category_message(*c) as i32).collect(),
        source: pb::ConsentSource::PaperRecordedByInsurer as i32,
        valid_from: Some(kaigo_proto::from_naive_date(valid_from)),
        ..Default::default()
    };
    set_time!(c.create_time, Utc::now());
    c
}

/// Publishes `registration` as `registry.registration_changed` and waits until the copy holds
/// its version.
pub async fn publish_registration(feed: &Feed, registration: &pb::Registration) {
    let payload =
        pb::RegistrationChanged { registration: Some(registration.clone()), change_time: None }.encode_to_vec();
    let e = event(TOPIC_REGISTRATION_CHANGED, &registration.registration_id, payload);
    feed.bus.publish(&e).await.expect("publish registration_changed");
    let (db, id, version) = (&feed.db, registration.registration_id.as_str(), registration.version);
    super::eventually(Duration::from_secs(10), || async move {
        registration_version(db, id).await.ok().flatten().filter(|v| *v >= version).map(|_| ())
    })
    .await
    .expect("the service's access consumer applied the registration");
}

/// Publishes `consent` as `registry.consent_changed` and waits until the copy holds its
/// version.
pub async fn publish_consent(feed: &Feed, consent: &pb::Consent) {
    let payload = pb::ConsentChanged { consent: Some(consent.clone()), change_time: None }.encode_to_vec();
    let e = event(TOPIC_CONSENT_CHANGED, &consent.consent_id, payload);
    feed.bus.publish(&e).await.expect("publish consent_changed");
    let (db, id, version) = (&feed.db, consent.consent_id.as_str(), consent.version);
    super::eventually(Duration::from_secs(10), || async move {
        consent_version(db, id).await.ok().flatten().filter(|v| *v >= version).map(|_| ())
    })
    .await
    .expect("the service's access consumer applied the consent");
}

/// Registers `org` (`kind`) as the person's 担当 from `start`, through the service's consumer.
pub async fn register(
    feed: &Feed,
    kind: OrganizationKind,
    org: &str,
    insurer: &str,
    insured: &str,
    start: NaiveDate,
) -> pb::Registration {
    let r = registration(kind, org, insurer, insured, start);
    publish_registration(feed, &r).await;
    r
}

/// Ends `registration` at `at` (its next version), through the service's consumer.
pub async fn end_registration(feed: &Feed, registration: &pb::Registration, at: DateTime<Utc>) -> pb::Registration {
    let mut ended = registration.clone();
    ended.version += 1;
    set_time!(ended.end_time, at);
    ended.end_reason = pb::EndReason::ByInsurer as i32;
    publish_registration(feed, &ended).await;
    ended
}

/// Records the person's consent to `org` for `categories` from `valid_from`, through the
/// service's consumer.
pub async fn consent(
    feed: &Feed,
    kind: OrganizationKind,
    org: &str,
    insurer: &str,
    insured: &str,
    categories: &[Category],
    valid_from: NaiveDate,
) -> pb::Consent {
    let c = consent_to(kind, org, insurer, insured, categories, valid_from);
    publish_consent(feed, &c).await;
    c
}

/// Withdraws `consent` at `at` (its next version), through the service's consumer.
pub async fn withdraw(feed: &Feed, consent: &pb::Consent, at: DateTime<Utc>) -> pb::Consent {
    let mut withdrawn = consent.clone();
    withdrawn.version += 1;
    set_time!(withdrawn.withdraw_time, at);
    publish_consent(feed, &withdrawn).await;
    withdrawn
}

/// Registers `org` and records its consent to every category, both from `start`: what most
/// tests of an office that may see a person need.
pub async fn register_with_consent(
    feed: &Feed,
    kind: OrganizationKind,
    org: &str,
    insurer: &str,
    insured: &str,
    start: NaiveDate,
) -> (pb::Registration, pb::Consent) {
    let r = register(feed, kind, org, insurer, insured, start).await;
    let c = consent(feed, kind, org, insurer, insured, &Category::ALL, start).await;
    (r, c)
}

/// Publishes `link` as `registry.identity_link_changed` and waits until the copy holds its
/// version.
pub async fn publish_link(feed: &Feed, link: &pb::IdentityLinkChanged) {
    let e = event(TOPIC_IDENTITY_LINK_CHANGED, &link.link_id, link.encode_to_vec());
    feed.bus.publish(&e).await.expect("publish identity_link_changed");
    let (db, id, version) = (&feed.db, link.link_id.as_str(), link.version);
    super::eventually(Duration::from_secs(10), || async move {
        identity_link_version(db, id).await.ok().flatten().filter(|v| *v >= version).map(|_| ())
    })
    .await
    .expect("the service's access consumer applied the identity link");
}

/// Links the identity `link_id` (an `insured_person` caller's token subject, lower-case hex)
/// to the person (version 1), through the service's consumer
/// (docs/domain/access.md#own-view).
pub async fn link(feed: &Feed, link_id: &str, insurer: &str, insured: &str) -> pb::IdentityLinkChanged {
    let mut l = pb::IdentityLinkChanged {
        link_id: link_id.to_owned(),
        person: Some(person_ref(insurer, insured)),
        revoked: false,
        version: 1,
        change_time: None,
    };
    set_time!(l.change_time, Utc::now());
    publish_link(feed, &l).await;
    l
}

/// Revokes `link` (its next version), through the service's consumer.
pub async fn revoke_link(feed: &Feed, link: &pb::IdentityLinkChanged) -> pb::IdentityLinkChanged {
    let mut revoked = link.clone();
    revoked.version += 1;
    revoked.revoked = true;
    publish_link(feed, &revoked).await;
    revoked
}
