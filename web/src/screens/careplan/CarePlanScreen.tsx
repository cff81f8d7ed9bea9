// ケアプラン: the office's inbox (live arrivals over WatchInbox), what it sent, and sending a
// unit of standard CSV files. Paths: /careplan, /careplan/sent, /careplan/send (no data in them).
import { PageHeading, SubNav } from "../../app/components";
import { useMessages } from "../../app/i18n";
import type { ScreenProps } from "../types";
import { Inbox } from "./Inbox";
import { messages } from "./messages";
import { SendForm } from "./SendForm";
import { Sent } from "./Sent";

export default function CarePlanScreen({ session, subpath }: ScreenProps) {
  const m = useMessages(messages);
  const view = subpath === "/sent" ? "sent" : subpath === "/send" ? "send" : "inbox";
  const tabs = [
    { id: "inbox", to: "/careplan", label: m.tabInbox },
    { id: "sent", to: "/careplan/sent", label: m.tabSent },
    { id: "send", to: "/careplan/send", label: m.tabSend },
  ];
  const heading = view === "sent" ? m.sentTitle : view === "send" ? m.sendTitle : m.inboxTitle;
  return (
    <>
      <PageHeading key={view} title={`${heading} — ${m.title}`}>
        {m.title}: {heading}
      </PageHeading>
      <p>{m.lead}</p>
      <SubNav label={m.tabs} tabs={tabs} current={view} />
      {view === "inbox" ? (
        <Inbox />
      ) : view === "sent" ? (
        <Sent />
      ) : (
        <SendForm office={session.claims.office_number ?? ""} />
      )}
    </>
  );
}
