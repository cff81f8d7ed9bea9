// 助成金の審査 (operator): the applications (/review), one application with the actions its
// state allows (/review/<application id>), and the report (/review/report). Paths carry ids only.
import { PageHeading, SubNav } from "../../app/components";
import { useMessages } from "../../app/i18n";
import type { ScreenProps } from "../types";
import { messages } from "./messages";
import { ReviewDetail } from "./ReviewDetail";
import { ReviewList } from "./ReviewList";
import { ReviewReport } from "./ReviewReport";

export default function ReviewScreen({ subpath }: ScreenProps) {
  const m = useMessages(messages);
  const rest = subpath.replace(/^\//, "");
  const view = rest === "" ? "list" : rest === "report" ? "report" : "detail";
  const tabs = [
    { id: "list", to: "/review", label: m.tabList },
    { id: "report", to: "/review/report", label: m.tabReport },
  ];
  const heading = view === "list" ? m.tabList : view === "report" ? m.reportTitle : m.detailTitle;
  return (
    <>
      <PageHeading key={rest} title={`${heading} — ${m.title}`}>
        {m.title}: {heading}
      </PageHeading>
      <SubNav label={m.views} tabs={tabs} current={view} />
      {view === "list" ? (
        <ReviewList />
      ) : view === "report" ? (
        <ReviewReport />
      ) : (
        <ReviewDetail key={rest} applicationId={decodeURIComponent(rest)} />
      )}
    </>
  );
}
