//! The copy of the registry's facts on real PostgreSQL: events applied once and in any order,
//! a wrapping handler told after commit, the loader's facts deciding, and the testkit's feed through a
//! running consumer.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use kaigo_access::{Category, OrganizationKind};
use kaigo_platform::access::{
    self, AccessFactsMigration, AccessIdentityLinksMigration, AccessOptions, FactsHandler, Gate, Person, PersonRef,
    TOPIC_CONSENT_CHANGED, TOPIC_REGISTRATION_CHANGED,
};
use kaigo_platform::auth::Role;
use kaigo_platform::events::{Consumer, ConsumerOptions, Event, EventHandler, EventTablesMigration, HandlerError};
use kaigo_platform::testkit::access::{self as feed, Feed};
use kaigo_platform::testkit::{TestDatabase, caller, context, orgs};
use kaigo_proto::kaigo::registry::v1 as pb;
use parking_lot::Mutex;
use prost::Message;
use sea_orm::DatabaseConnection;
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration), Box::new(AccessFactsMigration), Box::new(AccessIdentityLinksMigration)]
    }
}

async fn setup(db: &TestDatabase, schema: &str) -> DatabaseConnection {
    let conn = kaigo_platform::db::connect(&db.config(), schema).await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    conn
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

const INSURED: &str = "0000000001";

/// A service's handler as eligibility's is built: the copy's, and after each commit the person
/// whose facts changed noted (`changed_person`).
struct Told {
    copy: FactsHandler,
    seen: Arc<Mutex<Vec<Person>>>,
}

impl Told {
    fn new(seen: &Arc<Mutex<Vec<Person>>>) -> Arc<Self> {
        Arc::new(Self { copy: FactsHandler::new(), seen: seen.clone() })
    }
}

impl EventHandler for Told {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        txn: &'a sea_orm::DatabaseTransaction,
    ) -> futures::future::BoxFuture<'a, Result<(), HandlerError>> {
        self.copy.handle(event, txn)
    }

    fn after_commit<'a>(&'a self, event: &'a Event) -> futures::future::BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(person) = access::changed_person(event) {
                self.seen.lock().push(person);
            }
        })
    }
}

fn registration_event(r: &pb::Registration) -> kaigo_platform::events::Event {
    let payload = pb::RegistrationChanged { registration: Some(r.clone()), change_time: None }.encode_to_vec();
    feed::event(TOPIC_REGISTRATION_CHANGED, &r.registration_id, payload)
}

fn consent_event(c: &pb::Consent) -> kaigo_platform::events::Event {
    let payload = pb::ConsentChanged { consent: Some(c.clone()), change_time: None }.encode_to_vec();
    feed::event(TOPIC_CONSENT_CHANGED, &c.consent_id, payload)
}

#[tokio::test]
async fn versions_apply_once_and_in_any_order_and_the_service_is_told_after_commit() {
    let db = TestDatabase::create().await;
    let conn = setup(&db, "access_order").await;
    let changed: Arc<Mutex<Vec<Person>>> = Arc::default();
    let consumer = Consumer::new(
        conn.clone(),
        kaigo_platform::events::Bus::Local(kaigo_platform::events::LocalBus::new()),
        ConsumerOptions::new("test-access", &[TOPIC_REGISTRATION_CHANGED, TOPIC_CONSENT_CHANGED]),
        Told::new(&changed),
    );
    let person = PersonRef::new(orgs::INSURER, INSURED);
    let v1 = feed::registration(OrganizationKind::CareOffice, orgs::CARE_OFFICE, orgs::INSURER, INSURED, d(2026, 4, 1));
    let mut v2 = v1.clone();
    v2.version = 2;
    // Ended 2026-06-10 09:00 JST.
    v2.end_time = v1.create_time.map(|mut t| {
        t.seconds = Utc.with_ymd_and_hms(2026, 6, 10, 0, 0, 0).unwrap().timestamp();
        t
    });

    // The end arrives first, then the creation: the older version changes nothing.
    let (e1, e2) = (registration_event(&v1), registration_event(&v2));
    assert!(consumer.apply(&e2).await.unwrap());
    assert!(consumer.apply(&e1).await.unwrap());
    // A redelivery of the same event is skipped by the consumer's dedup.
    assert!(!consumer.apply(&e2).await.unwrap());
    let facts = access::load(&conn, person).await.unwrap();
    assert_eq!(facts.registrations.len(), 1);
    assert_eq!(facts.registrations[0].end, Some(d(2026, 6, 10)));
    assert_eq!(access::registration_version(&conn, &v1.registration_id).await.unwrap(), Some(2));
    assert_eq!(facts.stamp, 2, "the stamp is the newest version's: the late older one changed nothing");
    // The wrapping handler was told once per applied event, after its commit, with the person.
    let people = changed.lock().clone();
    assert_eq!(people, vec![Person { insurer: orgs::INSURER.into(), insured: INSURED.into() }; 2]);

    // A consent and its withdrawal, the withdrawal first.
    let c1 = feed::consent_to(
        OrganizationKind::CareOffice,
        orgs::CARE_OFFICE,
        orgs::INSURER,
        INSURED,
        &[Category::InsuranceCertificates, Category::CostShare],
        d(2026, 4, 1),
    );
    let mut c2 = c1.clone();
    c2.version = 2;
    c2.withdraw_time = c1.create_time.map(|mut t| {
        t.seconds = Utc.with_ymd_and_hms(2026, 5, 1, 3, 0, 0).unwrap().timestamp();
        t
    });
    assert!(consumer.apply(&consent_event(&c2)).await.unwrap());
    assert!(consumer.apply(&consent_event(&c1)).await.unwrap());
    let facts = access::load(&conn, person).await.unwrap();
    assert_eq!(facts.consents.len(), 1);
    assert_eq!(facts.consents[0].withdrawn_on, Some(d(2026, 5, 1)));
    assert_eq!(facts.stamp, 2 + 2, "the registration's version and the consent's");

    // The facts decide: registered and consented in April, withdrawn from May 1, ended June 10.
    let gate = Gate::builtin("test", &AccessOptions::default());
    let office = caller(Role::CareOffice);
    assert!(gate.decide(&office, person, Category::CostShare, d(2026, 4, 30), &facts).is_ok());
    let may = gate.decide(&office, person, Category::CostShare, d(2026, 5, 1), &facts).unwrap_err();
    assert_eq!(may.reason(), "CONSENT_REQUIRED");
    let june = gate.decide(&office, person, Category::CostShare, d(2026, 6, 10), &facts).unwrap_err();
    assert_eq!(june.reason(), "NOT_REGISTERED");
}

#[tokio::test]
async fn a_batch_loads_in_one_go_and_a_person_without_facts_is_absent() {
    let db = TestDatabase::create().await;
    let conn = setup(&db, "access_batch").await;
    let consumer = Consumer::new(
        conn.clone(),
        kaigo_platform::events::Bus::Local(kaigo_platform::events::LocalBus::new()),
        ConsumerOptions::new("test-access", &[TOPIC_REGISTRATION_CHANGED, TOPIC_CONSENT_CHANGED]),
        Arc::new(FactsHandler::new()),
    );
    for insured in ["0000000001", "0000000002"] {
        let r = feed::registration(
            OrganizationKind::ServiceProvider,
            orgs::PROVIDER,
            orgs::INSURER,
            insured,
            d(2026, 4, 1),
        );
        consumer.apply(&registration_event(&r)).await.unwrap();
    }
    let persons = [
        PersonRef::new(orgs::INSURER, "0000000001"),
        PersonRef::new(orgs::INSURER, "0000000002"),
        PersonRef::new(orgs::INSURER, "0000000003"),
    ];
    let all = access::load_many(&conn, &persons).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.values().all(|f| f.registrations.len() == 1 && f.consents.is_empty()));
    assert!(!all.contains_key(&Person::from(persons[2])));
    assert_eq!(access::load(&conn, persons[2]).await.unwrap(), access::Facts::default());

    // The provider's persons: both, until one registration ends (from its end day on).
    let mine = |date| access::registered_persons(&conn, orgs::PROVIDER, date);
    let numbers = |ps: Vec<Person>| ps.into_iter().map(|p| p.insured).collect::<Vec<_>>();
    assert_eq!(numbers(mine(d(2026, 5, 1)).await.unwrap()), ["0000000001", "0000000002"]);
    let mut ended = feed::registration(
        OrganizationKind::ServiceProvider,
        orgs::PROVIDER,
        orgs::INSURER,
        "0000000003",
        d(2026, 4, 1),
    );
    ended.version = 2;
    ended.end_time = Some(prost_types::Timestamp {
        seconds: Utc.with_ymd_and_hms(2026, 4, 30, 3, 0, 0).unwrap().timestamp(),
        nanos: 0,
    });
    consumer.apply(&registration_event(&ended)).await.unwrap();
    assert_eq!(numbers(mine(d(2026, 4, 29)).await.unwrap()), ["0000000001", "0000000002", "0000000003"]);
    assert_eq!(numbers(mine(d(2026, 4, 30)).await.unwrap()), ["0000000001", "0000000002"]);
    assert!(mine(d(2026, 5, 1)).await.unwrap().iter().all(|p| p.insurer == orgs::INSURER));
    assert!(access::registered_persons(&conn, orgs::CARE_OFFICE, d(2026, 5, 1)).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_testkit_feeds_facts_through_a_running_consumer() {
    let db = TestDatabase::create().await;
    let conn = setup(&db, "access_feed").await;
    let (ctx, control) = context("feedtest", conn.clone());
    let told: Arc<Mutex<Vec<Person>>> = Arc::default();
    access::spawn_consumer_with(&ctx, Told::new(&told));
    let feed = Feed::of(&ctx);
    let (_, c) = feed::register_with_consent(
        &feed,
        OrganizationKind::CareOffice,
        orgs::CARE_OFFICE,
        orgs::INSURER,
        INSURED,
        d(2026, 4, 1),
    )
    .await;
    let person = PersonRef::new(orgs::INSURER, INSURED);
    let gate = Gate::builtin("test", &AccessOptions::default());
    let office = caller(Role::CareOffice);
    let facts = access::load(&conn, person).await.unwrap();
    assert!(gate.decide(&office, person, Category::CarePlan, d(2026, 5, 1), &facts).is_ok());
    feed::withdraw(&feed, &c, Utc::now()).await;
    let facts = access::load(&conn, person).await.unwrap();
    let today = kaigo_platform::time::today_jst();
    assert_eq!(
        gate.decide(&office, person, Category::CarePlan, today, &facts).unwrap_err().reason(),
        "CONSENT_REQUIRED"
    );
    // The wrapping handler was told of each of the three changes.
    let seen = kaigo_platform::testkit::eventually(Duration::from_secs(5), || {
        let n = told.lock().len();
        async move { (n == 3).then_some(n) }
    })
    .await;
    assert_eq!(seen, Some(3));
    control.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_copy_works_on_sqlite_as_in_kaigo_dev() {
    let dir = std::env::temp_dir().join(format!("kaigo-access-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("access.db").display());
    let conn = sea_orm::Database::connect(url.as_str()).await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    let consumer = Consumer::new(
        conn.clone(),
        kaigo_platform::events::Bus::Local(kaigo_platform::events::LocalBus::new()),
        ConsumerOptions::new("test-access", &[TOPIC_REGISTRATION_CHANGED, TOPIC_CONSENT_CHANGED]),
        Arc::new(FactsHandler::new()),
    );
    let r = feed::registration(OrganizationKind::CareOffice, orgs::CARE_OFFICE, orgs::INSURER, INSURED, d(2026, 4, 1));
    let c = feed::consent_to(
        OrganizationKind::CareOffice,
        orgs::CARE_OFFICE,
        orgs::INSURER,
        INSURED,
        &Category::ALL,
        d(2026, 4, 1),
    );
    assert!(consumer.apply(&registration_event(&r)).await.unwrap());
    assert!(consumer.apply(&consent_event(&c)).await.unwrap());
    let mut older = c.clone();
    older.version = 0;
    older.categories.clear();
    // Version 0 is not a version: the event is skipped, the copy unchanged.
    assert!(consumer.apply(&consent_event(&older)).await.unwrap());
    let person = PersonRef::new(orgs::INSURER, INSURED);
    let facts = access::load(&conn, person).await.unwrap();
    assert_eq!((facts.registrations.len(), facts.consents.len()), (1, 1));
    assert_eq!(facts.consents[0].categories.len(), 4);
    assert_eq!(facts.registrations[0].start, d(2026, 4, 1));
    let gate = Gate::builtin("test", &AccessOptions::default());
    assert!(gate.decide(&caller(Role::CareOffice), person, Category::CostShare, d(2026, 4, 1), &facts).is_ok());
    // The person's links load on SQLite too (the revoked flag's placeholder after the filter's).
    let link =
        access::IdentityLinkRow { id: "d000000001".into(), version: 1, person: Person::from(person), revoked: false };
    assert!(access::apply_identity_link(&conn, &link, Utc::now()).await.unwrap());
    let before = access::load(&conn, person).await.unwrap();
    assert_eq!(before.links, vec!["d000000001".to_owned()]);
    // Revoked, the link is no fact, but its version still counts: the stamp only grows.
    let revoked = access::IdentityLinkRow { version: 2, revoked: true, ..link };
    assert!(access::apply_identity_link(&conn, &revoked, Utc::now()).await.unwrap());
    let after = access::load(&conn, person).await.unwrap();
    assert!(after.links.is_empty());
    assert_eq!(after.stamp, before.stamp + 1);
    let _ = conn.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The person's identity links (docs/domain/access.md#own-view): applied in any order by
/// version through the service's running consumer, a revoked one binding nobody.
#[tokio::test]
async fn identity_links_bind_the_person_until_revoked_whatever_the_order() {
    let db = TestDatabase::create().await;
    let conn = setup(&db, "access_links").await;
    let (ctx, control) = context("linktest", conn.clone());
    let changed: Arc<Mutex<Vec<Person>>> = Arc::default();
    access::spawn_consumer_with(&ctx, Told::new(&changed));
    let feed = Feed::of(&ctx);
    let person = PersonRef::new(orgs::INSURER, INSURED);
    let other = PersonRef::new(orgs::INSURER, "0000000002");
    let gate = Gate::builtin("test", &AccessOptions::default());
    let me = kaigo_platform::auth::Caller { subject: "d000000001".into(), ..caller(Role::InsuredPerson) };
    let today = kaigo_platform::time::today_jst();

    let link = feed::link(&feed, "d000000001", orgs::INSURER, INSURED).await;
    feed::link(&feed, "d000000002", orgs::INSURER, "0000000002").await;
    let facts = access::load(&conn, person).await.unwrap();
    assert_eq!(facts.links, vec!["d000000001".to_owned()]);
    assert_eq!(access::linked_persons(&conn, "d000000001").await.unwrap(), vec![Person::from(person)]);
    assert!(gate.decide(&me, person, Category::CostShare, today, &facts).is_ok());
    let theirs = access::load(&conn, other).await.unwrap();
    assert_eq!(gate.decide(&me, other, Category::CostShare, today, &theirs).unwrap_err().reason(), "NOT_REGISTERED");

    // Revoked: the link binds nobody; the older version delivered late changes nothing.
    feed::revoke_link(&feed, &link).await;
    let late = feed::event(access::TOPIC_IDENTITY_LINK_CHANGED, &link.link_id, link.encode_to_vec());
    ctx.bus.publish(&late).await.unwrap();
    let facts = access::load(&conn, person).await.unwrap();
    assert!(facts.links.is_empty());
    assert_eq!(facts.stamp, 2, "a revoked link is no fact, but its version counts: the stamp only grows");
    assert!(access::linked_persons(&conn, "d000000001").await.unwrap().is_empty());
    assert_eq!(access::identity_link_version(&conn, "d000000001").await.unwrap(), Some(2));
    assert_eq!(gate.decide(&me, person, Category::CostShare, today, &facts).unwrap_err().reason(), "NOT_REGISTERED");
    // The service was told whose facts changed, so it drops what it cached about the person.
    let told = kaigo_platform::testkit::eventually(Duration::from_secs(5), || {
        let n = changed.lock().iter().filter(|p| p.insured == INSURED).count();
        async move { (n >= 2).then_some(n) }
    })
    .await;
    assert!(told.is_some());
    control.stop(Duration::from_secs(5)).await;
    // Still not bound after the late event was handled.
    assert!(access::load(&conn, person).await.unwrap().links.is_empty());
}
