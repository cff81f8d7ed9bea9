// A table of bundles (metadata only: no personal data is listed), with per-row actions.
import type { ReactNode } from "react";
import type { Bundle } from "../../gen/kaigo/careplan/v1/bundle_pb";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatTimestamp } from "../../app/labels";
import { kindText, messages, statusText } from "./messages";

export function monthText(b: Bundle): string {
  const m = b.serviceMonth;
  return m && m.year ? `${m.year}-${String(m.month).padStart(2, "0")}` : "—";
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
    <div className="table-wrap">
      <table data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{m.colSequence}</th>
            <th scope="col">{side === "sender" ? m.colSender : m.colReceiver}</th>
            <th scope="col">{m.colKind}</th>
            <th scope="col">{m.colMonth}</th>
            <th scope="col">{m.colFiles}</th>
            <th scope="col">{m.colPersons}</th>
            <th scope="col">{m.colSent}</th>
            <th scope="col">{m.colStatus}</th>
            {actions ? <th scope="col">{m.colActions}</th> : null}
          </tr>
        </thead>
        <tbody>
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
              <td>{monthText(b)}</td>
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
        </tbody>
      </table>
    </div>
  );
}
