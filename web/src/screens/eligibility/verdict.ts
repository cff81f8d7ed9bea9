import { EligibilityVerdict } from "../../gen/kaigo/eligibility/v1/eligibility_service_pb";
import type { messages } from "./messages";

type M = (typeof messages)["ja"];

export function verdictText(m: M, v: EligibilityVerdict): string {
  const key = `verdict_${v}` as keyof M;
  return (m[key] as string | undefined) ?? m.verdict_0;
}

export function verdictClass(v: EligibilityVerdict): string {
  switch (v) {
    case EligibilityVerdict.ELIGIBLE:
      return "verdict-ok";
    case EligibilityVerdict.PROGRAMME_ONLY:
    case EligibilityVerdict.NOT_CERTIFIED:
    case EligibilityVerdict.ASSESSED_NOT_APPLICABLE:
    case EligibilityVerdict.NOT_YET_QUALIFIED:
      return "verdict-warn";
    default:
      return "verdict-bad";
  }
}
