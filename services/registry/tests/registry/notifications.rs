//! 居宅サービス計画作成依頼届出: accepted (registering the office, one event through the outbox
//! and Redis) or returned (docs/domain/access.md#care-plan-notification).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kaigo_platform::auth::Role;
use kaigo_platform::events::{Bus, Consumer, ConsumerOptions, Event, EventHandler, HandlerError, RedisBus};
use kaigo_platform::testkit::{caller_for, eventually};
use kaigo_proto::kaigo::registry::v1 as pb;
use prost::Message;
use sea_orm::DatabaseTransaction;
use tokio::sync::Mutex;
use tonic::Code;

use crate::harness::*;

/// Eligibility's side, as far as this test needs it: counts what it applies.
struct Counter(Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>);

impl EventHandler for Counter {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _txn: &'a DatabaseTransaction,
    ) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>> {
        Box::pin(async move {
            let accepted = pb::CarePlanNotificationAccepted::decode(event.payload.as_slice())?;
            let office = accepted.notification.map(|n| n.office_number).unwrap_or_default();
            self.1.lock().await.push(office);
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

async fn submit(client: &mut Client, insured: &str) -> pb::CarePlanNotification {
    client
        .submit_care_plan_notification(pb::SubmitCarePlanNotificationRequest {
            request_id: id(),
            person: Some(person(insured)),
            start_date: Some(date(2026, 12, 10)),
        })
        .await
        .unwrap()
        .into_inner()
        .notification
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_notification_registers_the_office_and_publishes_once() {
    let r = Registry::start().await;
    let applied = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = Consumer::new(
        r.db.clone(),
        Bus::Redis(RedisBus::new(r.redis_handle.clone(), 10_000)),
        ConsumerOptions::new("eligibility", &[kaigo_registry::TOPIC_NOTIFICATION_ACCEPTED]),
        Arc::new(Counter(applied.clone(), seen.clone())),
    );
    let consuming = tokio::spawn(consumer.run(async move {
        let _ = stopped.await;
    }));

    let mut office_client = r.client(office()).await;
    // Only care offices send one.
    let s = r
        .client(caller_for(Role::ServiceProvider, OTHER_OFFICE))
        .await
        .submit_care_plan_notification(pb::SubmitCarePlanNotificationRequest {
            request_id: id(),
            person: Some(person("0000000007")),
            start_date: Some(date(2026, 12, 10)),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
    let sent = submit(&mut office_client, "0000000007").await;
    assert_eq!(sent.status, pb::NotificationStatus::Submitted as i32);
    assert_eq!(sent.office_number, OFFICE);

    // The insurer sees it; another insurer may not accept it.
    let listed = r
        .client(insurer())
        .await
        .list_care_plan_notifications(pb::ListCarePlanNotificationsRequest {
            status: pb::NotificationStatus::Submitted as i32,
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(listed.len(), 1);
    let accept =
        pb::AcceptCarePlanNotificationRequest { request_id: id(), notification_id: sent.notification_id.clone() };
    let s = r
        .client(caller_for(Role::Insurer, OTHER_INSURER))
        .await
        .accept_care_plan_notification(accept.clone())
        .await
        .unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::PermissionDenied, "NOT_OWN_INSURED"));
    let s = office_client.accept_care_plan_notification(accept.clone()).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);

    let mut insurer_client = r.client(insurer()).await;
    let accepted = insurer_client.accept_care_plan_notification(accept.clone()).await.unwrap().into_inner();
    let registration = accepted.registration.clone().unwrap();
    assert_eq!(registration.evidence, pb::Evidence::InsurerAcceptedNotification as i32);
    assert_eq!(registration.notification_id, sent.notification_id);
    assert_eq!(registration.start_date, Some(date(2026, 12, 10)));
    assert_eq!(accepted.notification.as_ref().unwrap().status, pb::NotificationStatus::Accepted as i32);
    // A retry is the first answer; a second acceptance is refused.
    assert_eq!(insurer_client.accept_care_plan_notification(accept.clone()).await.unwrap().into_inner(), accepted);
    let again = pb::AcceptCarePlanNotificationRequest { request_id: id(), ..accept };
    let s = insurer_client.accept_care_plan_notification(again).await.unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::FailedPrecondition, "NOTIFICATION_ALREADY_DECIDED"));

    // Exactly one event, relayed to Redis and applied once by eligibility's consumer.
    let published =
        eventually(Duration::from_secs(10), || async { (applied.load(Ordering::SeqCst) == 1).then_some(()) }).await;
    assert!(published.is_some(), "the acceptance reaches the consumer");
    assert_eq!(
        r.count("SELECT COUNT(*) FROM outbox WHERE topic = 'registry.care_plan_notification_accepted'").await,
        1
    );
    assert_eq!(seen.lock().await.as_slice(), [OFFICE]);
    // The office is registered from the notified start date (a consent is still needed for
    // data); before that day it is not.
    assert_eq!(
        r.check(office(), "0000000007", pb::Category::InsuranceCertificates).await.denial_reason,
        "NOT_REGISTERED"
    );
    let on_start = r
        .client(office())
        .await
        .check_access(pb::CheckAccessRequest {
            person: Some(person("0000000007")),
            category: pb::Category::InsuranceCertificates as i32,
            date: Some(date(2026, 12, 10)),
            organization: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(on_start.denial_reason, "CONSENT_REQUIRED");
    let _ = stop.send(());
    let _ = consuming.await;
    assert_eq!(applied.load(Ordering::SeqCst), 1);
    r.harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_notification_carries_its_reason_and_registers_nobody() {
    let r = Registry::start().await;
    let mut office_client = r.client(office()).await;
    let sent = submit(&mut office_client, "0000000008").await;
    let mut insurer_client = r.client(insurer()).await;
    let s = insurer_client
        .return_care_plan_notification(pb::ReturnCarePlanNotificationRequest {
            request_id: id(),
            notification_id: sent.notification_id.clone(),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    let returned = insurer_client
        .return_care_plan_notification(pb::ReturnCarePlanNotificationRequest {
            request_id: id(),
            notification_id: sent.notification_id.clone(),
            reason: "被保険者番号が異なります".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .notification
        .unwrap();
    assert_eq!(returned.status, pb::NotificationStatus::Returned as i32);
    assert_eq!(returned.return_reason, "被保険者番号が異なります");
    let s = insurer_client
        .accept_care_plan_notification(pb::AcceptCarePlanNotificationRequest {
            request_id: id(),
            notification_id: sent.notification_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&s), "NOTIFICATION_ALREADY_DECIDED");
    // The office sees its notification returned; nobody is registered, nothing published.
    let mine = office_client
        .list_care_plan_notifications(pb::ListCarePlanNotificationsRequest {
            status: 0,
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(mine, [returned]);
    assert_eq!(r.count("SELECT COUNT(*) FROM registrations").await, 0);
    assert_eq!(r.count("SELECT COUNT(*) FROM outbox").await, 0);
    r.harness.shutdown().await;
}
