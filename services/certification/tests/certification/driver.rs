//! Drives one application through the workflow as its insurer, keeping the version.

use chrono::NaiveDate;
use kaigo_platform::auth::{Caller, CallerKeys};
use kaigo_platform::testkit::SignedChannel;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::certification::v1::certification_service_client::CertificationServiceClient;
use kaigo_proto::kaigo::common::v1 as common;

use crate::support::{INSURER, Replica, insurer_caller, rid, signed, wire};

pub struct Driver {
    pub keys: CallerKeys,
    pub client: CertificationServiceClient<SignedChannel>,
    pub insurer: Caller,
    pub id: String,
    pub version: i64,
}

type R = Result<pb::Application, tonic::Status>;

impl Driver {
    /// Files `application` through `replica` as the insurer.
    pub async fn submit(replica: &Replica, application: pb::Application) -> Result<Self, tonic::Status> {
        let (keys, client) = (&replica.keys, &replica.client);
        let insurer = insurer_caller(INSURER);
        let mut c = client.clone();
        let request = pb::SubmitApplicationRequest { request_id: rid(), application: Some(application) };
        let app = c
            .submit_application(signed(keys, &insurer, "SubmitApplication", request))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(Self { keys: keys.clone(), client: client.clone(), insurer, id: app.application_id, version: app.version })
    }

    fn done(&mut self, app: pb::Application) -> pb::Application {
        self.version = app.version;
        app
    }

    pub async fn survey_scheduled(&mut self, date: NaiveDate) -> R {
        let r = pb::RecordSurveyScheduledRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            scheduled_date: Some(wire(date)),
            surveyor: "調査員A".to_owned(),
            occur_time: None,
        };
        let app = self
            .client
            .record_survey_scheduled(signed(&self.keys, &self.insurer, "RecordSurveyScheduled", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub async fn survey_completed(
        &mut self,
        date: NaiveDate,
        tenths: i32,
        stability: pb::ConditionStability,
        dementia: common::DementiaIndependenceLevel,
    ) -> R {
        let r = pb::RecordSurveyCompletedRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            completed_date: Some(wire(date)),
            result: Some(pb::SurveyResult {
                standard_time_tenth_minutes: tenths,
                stability: stability as i32,
                dementia_level: dementia as i32,
                disability_level: 0,
                ..Default::default()
            }),
            occur_time: None,
        };
        let app = self
            .client
            .record_survey_completed(signed(&self.keys, &self.insurer, "RecordSurveyCompleted", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub async fn opinion_requested(&mut self) -> R {
        let r = pb::RecordOpinionRequestedRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            institution_code: "0110113719".to_owned(),
            opinion_request_id: String::new(),
            occur_time: None,
        };
        let app = self
            .client
            .record_opinion_requested(signed(&self.keys, &self.insurer, "RecordOpinionRequested", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub async fn opinion_received(&mut self) -> R {
        let r = pb::RecordOpinionReceivedRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            opinion_id: rid(),
            occur_time: None,
        };
        let app = self
            .client
            .record_opinion_received(signed(&self.keys, &self.insurer, "RecordOpinionReceived", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub async fn primary_judgment(&mut self) -> R {
        let r = pb::RecordPrimaryJudgmentRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            external_care_level: 0,
            occur_time: None,
            ..Default::default()
        };
        let app = self
            .client
            .record_primary_judgment(signed(&self.keys, &self.insurer, "RecordPrimaryJudgment", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub async fn board(&mut self, date: NaiveDate) -> R {
        let r = pb::ScheduleReviewBoardRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            board_date: Some(wire(date)),
            board_name: "第1合議体".to_owned(),
            occur_time: None,
        };
        let app = self
            .client
            .schedule_review_board(signed(&self.keys, &self.insurer, "ScheduleReviewBoard", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub fn decision_request(
        &self,
        level: common::CareLevel,
        date: NaiveDate,
        validity: Option<(NaiveDate, NaiveDate)>,
    ) -> pb::RecordDecisionRequest {
        pb::RecordDecisionRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            care_level: level as i32,
            decision_date: Some(wire(date)),
            validity: validity.map(|(s, e)| common::Period { start: Some(wire(s)), end: Some(wire(e)) }),
            board_opinion: "状態の変化に留意".to_owned(),
            designated_service_types: vec!["13".to_owned()],
            occur_time: None,
        }
    }

    pub async fn decide(
        &mut self,
        level: common::CareLevel,
        date: NaiveDate,
        validity: Option<(NaiveDate, NaiveDate)>,
    ) -> R {
        let r = self.decision_request(level, date, validity);
        self.send_decision(r).await
    }

    pub async fn send_decision(&mut self, r: pb::RecordDecisionRequest) -> R {
        let app = self
            .client
            .record_decision(signed(&self.keys, &self.insurer, "RecordDecision", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub async fn notified(&mut self, date: NaiveDate) -> R {
        let r = pb::RecordNotifiedRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            notified_date: Some(wire(date)),
            occur_time: None,
        };
        let app = self
            .client
            .record_notified(signed(&self.keys, &self.insurer, "RecordNotified", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub async fn delay(&mut self, notice: NaiveDate, expected: NaiveDate, reason: pb::DelayReason) -> R {
        let r = pb::IssueDelayNoticeRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            notice_date: Some(wire(notice)),
            expected_decision_date: Some(wire(expected)),
            reason: reason as i32,
            reason_text: String::new(),
        };
        let app = self
            .client
            .issue_delay_notice(signed(&self.keys, &self.insurer, "IssueDelayNotice", r))
            .await?
            .into_inner()
            .application
            .unwrap();
        Ok(self.done(app))
    }

    pub async fn resurvey(&mut self, reason: &str) -> R {
        let r = pb::RequestResurveyRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            reason: reason.to_owned(),
            occur_time: None,
        };
        let app = self.client.request_resurvey(signed(&self.keys, &self.insurer, "RequestResurvey", r)).await?;
        Ok(self.done(app.into_inner().application.unwrap()))
    }

    pub async fn second_opinion(&mut self, institution: &str, reason: &str) -> R {
        let r = pb::RequestSecondOpinionRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            institution_code: institution.to_owned(),
            opinion_request_id: String::new(),
            reason: reason.to_owned(),
            occur_time: None,
        };
        let app =
            self.client.request_second_opinion(signed(&self.keys, &self.insurer, "RequestSecondOpinion", r)).await?;
        Ok(self.done(app.into_inner().application.unwrap()))
    }

    pub async fn defer(&mut self, board_date: NaiveDate, reason: &str) -> R {
        let r = pb::DeferReviewRequest {
            request_id: rid(),
            application_id: self.id.clone(),
            expected_version: self.version,
            board_date: Some(wire(board_date)),
            reason: reason.to_owned(),
            occur_time: None,
        };
        let app = self.client.defer_review(signed(&self.keys, &self.insurer, "DeferReview", r)).await?;
        Ok(self.done(app.into_inner().application.unwrap()))
    }

    /// Survey and opinion done, primary judgment recorded and the board scheduled.
    pub async fn up_to_board(&mut self, app_date: NaiveDate, tenths: i32) {
        let day = |n| app_date.checked_add_days(chrono::Days::new(n)).unwrap();
        self.survey_scheduled(day(3)).await.unwrap();
        self.opinion_requested().await.unwrap();
        self.survey_completed(day(5), tenths, pb::ConditionStability::Stable, common::DementiaIndependenceLevel::I)
            .await
            .unwrap();
        self.opinion_received().await.unwrap();
        self.primary_judgment().await.unwrap();
        self.board(day(20)).await.unwrap();
    }
}
