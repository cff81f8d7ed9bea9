import { DeadlineStatus } from "../../gen/kaigo/certification/v1/application_pb";
import { enumText, type M } from "./messages";

const CLASS: Record<number, string> = {
  [DeadlineStatus.ON_TRACK]: "on_track",
  [DeadlineStatus.AT_RISK]: "at_risk",
  [DeadlineStatus.OVERDUE]: "overdue",
  [DeadlineStatus.MET]: "met",
  [DeadlineStatus.MISSED]: "missed",
  [DeadlineStatus.NOT_APPLICABLE]: "na",
};

export function DeadlineBadge({ m, status }: { m: M; status: DeadlineStatus }) {
  return (
    <span className={`badge badge-${CLASS[status] ?? "na"}`} data-deadline={CLASS[status] ?? "na"}>
      {enumText(m, "deadline", status)}
    </span>
  );
}
