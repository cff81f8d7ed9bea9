// A timeline step's particulars in the reader's language, from codes and dates: the API's
// step summary is an English sentence for developers and never reaches the page. The
// particulars come from the application's branches (survey, opinion, judgment, board,
// decision, delay notices), which keep the latest value of each: a step superseded by a later
// one of the same kind (a rescheduled survey) shows its kind and time only.
import type { Application, ApplicationStep } from "../../gen/kaigo/certification/v1/application_pb";
import { StepKind } from "../../gen/kaigo/certification/v1/application_pb";
import { fmt, type Lang } from "../../app/i18n";
import { careLevelLabel, formatDate, formatPeriod } from "../../app/labels";
import { enumText, type M } from "./messages";

/** True when `step` is the last of its kind among `steps`. */
function lastOfKind(step: ApplicationStep, steps: readonly ApplicationStep[]): boolean {
  return !steps.some((s) => s.kind === step.kind && s.sequence > step.sequence);
}

export function stepDetail(
  m: M,
  lang: Lang,
  step: ApplicationStep,
  steps: readonly ApplicationStep[],
  app: Application | null,
): string | null {
  if (!app) return null;
  const date = (d: Parameters<typeof formatDate>[0]) => formatDate(d, lang);
  switch (step.kind) {
    case StepKind.RECEIVED:
      return fmt(m.detailReceived, { type: enumText(m, "type", app.type), date: date(app.applicationDate) });
    case StepKind.SURVEY_SCHEDULED:
      return lastOfKind(step, steps) && app.survey?.scheduledDate?.year
        ? fmt(m.detailSurveyScheduled, { date: date(app.survey.scheduledDate) })
        : null;
    case StepKind.SURVEY_COMPLETED:
      return app.survey?.completedDate?.year
        ? fmt(m.detailSurveyCompleted, { date: date(app.survey.completedDate) })
        : null;
    case StepKind.OPINION_REQUESTED:
      return lastOfKind(step, steps) && app.opinion?.institutionCode
        ? fmt(m.detailOpinionRequested, { code: app.opinion.institutionCode })
        : null;
    case StepKind.OPINION_RECEIVED:
      return m.detailOpinionReceived;
    case StepKind.PRIMARY_JUDGMENT:
      return app.primaryJudgment
        ? fmt(m.detailPrimary, { level: careLevelLabel(app.primaryJudgment.careLevel, lang) })
        : null;
    case StepKind.REVIEW_BOARD_SCHEDULED:
      return lastOfKind(step, steps) && app.reviewBoard?.boardDate?.year
        ? fmt(m.detailBoard, { date: date(app.reviewBoard.boardDate) })
        : null;
    case StepKind.DECIDED: {
      const d = app.decision;
      if (!d) return null;
      const level = careLevelLabel(d.careLevel, lang);
      return d.validity?.start?.year
        ? fmt(m.detailDecidedWithValidity, { level, validity: formatPeriod(d.validity, lang) })
        : fmt(m.detailDecided, { level });
    }
    case StepKind.NOTIFIED:
      return app.notifiedDate?.year ? fmt(m.detailNotified, { date: date(app.notifiedDate) }) : null;
    case StepKind.DELAY_NOTICE_ISSUED: {
      const nth = steps.filter((s) => s.kind === StepKind.DELAY_NOTICE_ISSUED && s.sequence < step.sequence).length;
      const n = app.delayNotices[nth];
      if (!n) return null;
      return fmt(m.detailDelay, { date: date(n.expectedDecisionDate), reason: enumText(m, "delay", n.reason) });
    }
    default:
      return null;
  }
}
