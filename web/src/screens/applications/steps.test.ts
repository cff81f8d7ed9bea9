import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import {
  ApplicationSchema,
  ApplicationStepSchema,
  ApplicationType,
  DelayReason,
  StepKind,
} from "../../gen/kaigo/certification/v1/application_pb";
import { CareLevel } from "../../gen/kaigo/common/v1/care_pb";
import { messages } from "./messages";
import { stepDetail } from "./steps";

const d = (year: number, month: number, day: number) => ({ year, month, day });
const step = (sequence: number, kind: StepKind) =>
  create(ApplicationStepSchema, { sequence: BigInt(sequence), kind, summary: "an English summary for developers" });

const app = create(ApplicationSchema, {
  type: ApplicationType.NEW,
  applicationDate: d(2026, 11, 22),
  survey: { scheduledDate: d(2026, 11, 29) },
  primaryJudgment: { careLevel: CareLevel.CARE_1 },
  delayNotices: [
    { expectedDecisionDate: d(2027, 1, 10), reason: DelayReason.OPINION_NOT_READY },
    { expectedDecisionDate: d(2027, 2, 1), reason: DelayReason.WAITING_FOR_BOARD },
  ],
});

describe("a timeline step in the reader's words", () => {
  const ja = messages.ja;
  it("is built from codes and dates, never from the API's summary", () => {
    const steps = [step(1, StepKind.RECEIVED), step(2, StepKind.SURVEY_SCHEDULED), step(3, StepKind.PRIMARY_JUDGMENT)];
    expect(stepDetail(ja, "ja", steps[0], steps, app)).toBe("申請区分: 新規、申請日: 2026年11月22日");
    expect(stepDetail(ja, "ja", steps[1], steps, app)).toBe("調査予定日: 2026年11月29日");
    expect(stepDetail(ja, "ja", steps[2], steps, app)).toBe("一次判定の結果: 要介護1");
    for (const s of steps) expect(stepDetail(ja, "ja", s, steps, app)).not.toContain("summary");
    expect(stepDetail(messages.en, "en", steps[1], steps, app)).toBe("Survey planned for 29 Nov 2026");
  });

  it("gives each delay notice its own expected date and reason, in issue order", () => {
    const steps = [
      step(1, StepKind.RECEIVED),
      step(2, StepKind.DELAY_NOTICE_ISSUED),
      step(3, StepKind.DELAY_NOTICE_ISSUED),
    ];
    expect(stepDetail(ja, "ja", steps[1], steps, app)).toBe("処理見込日: 2027年1月10日（理由: 主治医意見書が未着）");
    expect(stepDetail(ja, "ja", steps[2], steps, app)).toBe("処理見込日: 2027年2月1日（理由: 審査会の開催待ち）");
  });

  it("leaves out the particulars of a step a later one of its kind replaced", () => {
    const steps = [step(1, StepKind.SURVEY_SCHEDULED), step(2, StepKind.SURVEY_SCHEDULED)];
    expect(stepDetail(ja, "ja", steps[0], steps, app)).toBeNull();
    expect(stepDetail(ja, "ja", steps[1], steps, app)).toBe("調査予定日: 2026年11月29日");
  });
});
