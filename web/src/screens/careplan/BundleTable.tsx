// A table of bundles (metadata only: no personal data is listed), with per-row actions.
import type { ReactNode } from "react";
import type { Bundle } from "../../gen/kaigo/careplan/v1/bundle_pb";
import { DataTable } from "../../app/components";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatMonth, formatTimestamp } from "../../app/labels";
import type { Lang } from "../../app/i18n";
import { kindText, messages, statusText } from "./messages";

export function monthText(b: Bundle, lang: Lang): string {
  return formatMonth(b.serviceMonth, lang);
}

export function BundleTable({
  bundles,
  side,
  testId,
  actions,
}: {
  bundles: Bundle[];
  /** Which office to show: the sender (inbox) or the receiver (sent). */
  side: "sender" | "receiver";
  testId: string;
  actions?: (b: Bundle) => ReactNode;
}) {
  const m = useMessages(messages);
  const { lang } = useLang();
  return (
    <DataTable
      testId={testId}
      columns={[
        m.colSequence,
        side === "sender" ? m.colSender : m.colReceiver,
        m.colKind,
        m.colMonth,
        m.colFiles,
        m.colPersons,
        m.colSent,
        m.colStatus,
        ...(actions ? [m.colActions] : []),
      ]}
    >
      {bundles.map((b) => (
        <tr key={b.bundleId} data-bundle-id={b.bundleId} data-sequence={b.fileSequence}>
          <th scope="row">{b.fileSequence}</th>
          <td>
            {side === "sender" ? b.senderOfficeNumber : b.receiverOfficeNumber}
            {(side === "sender" ? b.senderServiceType : b.receiverServiceType) ? (
              <span className="reason"> ({side === "sender" ? b.senderServiceType : b.receiverServiceType})</span>
            ) : null}
          </td>
          <td>{kindText(m, b.kind)}</td>
          <td>{monthText(b, lang)}</td>
          <td>
            <ul className="plain">
              {b.files.map((f) => (
                <li key={f.fileName} className="filename">
                  {f.fileName} <span className="reason">({fmt(m.bytes, { n: Number(f.sizeBytes) })})</span>
                </li>
              ))}
            </ul>
          </td>
          <td>{b.personCount}</td>
          <td>{formatTimestamp(b.sendTime, lang)}</td>
          <td data-testid="bundle-status" data-status={b.status}>
            <span className={`badge badge-bundle-${b.status}`}>{statusText(m, b.status)}</span>
          </td>
          {actions ? <td>{actions(b)}</td> : null}
        </tr>
      ))}
    </DataTable>
  );
}
