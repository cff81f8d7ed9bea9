// 受信箱: ListInbox (paged), kept current by WatchInbox (server streaming; resumes after the
// last cursor when the stream drops). Each bundle can be downloaded (DownloadBundle → one
// Blob per file, byte for byte) and acknowledged (AcknowledgeBundle).
import { useEffect, useRef, useState } from "react";
import { Code, ConnectError } from "@connectrpc/connect";
import { CarePlanService } from "../../gen/kaigo/careplan/v1/careplan_service_pb";
import { BundleStatus, type Bundle } from "../../gen/kaigo/careplan/v1/bundle_pb";
import { useClient } from "../../app/api";
import { PagedItems, ProblemAlert } from "../../app/components";
import { toProblem } from "../../app/errors";
import { fmt, useMessages } from "../../app/i18n";
import { requestId } from "../../app/labels";
import { usePagedList } from "../../app/usePagedList";
import { BundleTable } from "./BundleTable";
import { downloadBundle } from "./download";
import { kindText, messages, statusText } from "./messages";

type Live = "connecting" | "live" | "reconnecting";

interface Saved {
  name: string;
  size: number;
  url: string;
}

function merge(list: Bundle[], b: Bundle): Bundle[] {
  const i = list.findIndex((x) => x.bundleId === b.bundleId);
  if (i < 0) return [...list, b];
  const copy = list.slice();
  copy[i] = b;
  return copy;
}

export function Inbox() {
  const m = useMessages(messages);
  const client = useClient(CarePlanService);
  const [status, setStatus] = useState<BundleStatus | 0>(0);
  const [live, setLive] = useState<Live>("connecting");
  const [announce, setAnnounce] = useState("");
  const [working, setWorking] = useState<string | null>(null);
  const [saved, setSaved] = useState<Record<string, Saved[]>>({});
  const [notice, setNotice] = useState("");
  const urls = useRef<string[]>([]);

  const bundles = usePagedList<Bundle>(
    async (pageToken) => {
      const res = await client.listInbox({ pageSize: 50, pageToken, statuses: status ? [status] : [] });
      return { items: res.bundles, nextPageToken: res.nextPageToken };
    },
    [client, status],
  );
  const { setItems: setBundles, setProblem } = bundles;

  // Live arrivals. The first messages are the catch-up (every bundle not yet acknowledged).
  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      let cursor = "";
      while (!abort.signal.aborted) {
        try {
          setLive(cursor ? "reconnecting" : "connecting");
          const stream = client.watchInbox({ afterCursor: cursor }, { signal: abort.signal });
          setLive("live");
          for await (const msg of stream) {
            cursor = msg.cursor || cursor;
            const b = msg.bundle;
            if (!b) continue;
            setBundles((prev) => {
              if (prev === null) return prev;
              const known = prev.some((x) => x.bundleId === b.bundleId);
              if (!known && status && b.status !== status) return prev;
              if (!known) setAnnounce(fmt(m.arrived, { sender: b.senderOfficeNumber, kind: kindText(m, b.kind) }));
              return known ? prev : merge(prev, b);
            });
          }
        } catch (e) {
          if (abort.signal.aborted) return;
          if (ConnectError.from(e).code === Code.Unauthenticated) return;
          setLive("reconnecting");
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    return () => abort.abort();
    // m is left out: a language switch must not restart the stream.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, status, setBundles]);

  useEffect(() => () => urls.current.forEach((u) => URL.revokeObjectURL(u)), []);

  const download = async (b: Bundle) => {
    setWorking(b.bundleId);
    setProblem(null);
    setNotice(m.downloading);
    try {
      const { bundle, files } = await downloadBundle(client, b.bundleId);
      const list = files.map((f) => {
        const url = URL.createObjectURL(new Blob([f.bytes], { type: "text/csv" }));
        urls.current.push(url);
        return { name: f.name, size: f.bytes.length, url };
      });
      setSaved((prev) => ({ ...prev, [b.bundleId]: list }));
      if (bundle) setBundles((prev) => (prev ? merge(prev, bundle) : prev));
      setNotice("");
    } catch (e) {
      setProblem(toProblem(e));
      setNotice("");
    } finally {
      setWorking(null);
    }
  };

  const acknowledge = async (b: Bundle) => {
    setWorking(b.bundleId);
    setProblem(null);
    try {
      const res = await client.acknowledgeBundle({ requestId: requestId(), bundleId: b.bundleId });
      if (res.bundle) setBundles((prev) => (prev ? merge(prev, res.bundle!) : prev));
      setNotice(m.acknowledged);
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setWorking(null);
    }
  };

  return (
    <section aria-labelledby="careplan-inbox">
      <h2 id="careplan-inbox">{m.inboxTitle}</h2>
      <p className="live" data-live={live} role="status">
        {live === "reconnecting" ? m.liveReconnecting : live === "live" ? m.live : ""}
      </p>
      <p className="sr-only" aria-live="polite">
        {announce}
      </p>
      <div className="form-actions">
        <div className="field">
          <label htmlFor="careplan-status">{m.statusFilter}</label>
          <select
            id="careplan-status"
            value={status}
            onChange={(e) => setStatus(Number(e.target.value) as BundleStatus | 0)}
          >
            <option value={0}>{m.statusAll}</option>
            {[BundleStatus.SENT, BundleStatus.DELIVERED, BundleStatus.ACKNOWLEDGED].map((s) => (
              <option key={s} value={s}>
                {statusText(m, s)}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="align-end" onClick={() => void bundles.refresh()} disabled={bundles.busy}>
          {m.refresh}
        </button>
      </div>
      <ProblemAlert problem={bundles.problem} />
      {notice ? (
        <p className="alert alert-info" role="status" data-testid="inbox-notice">
          {notice}
        </p>
      ) : null}
      <PagedItems list={bundles} empty={m.empty} count={(n) => fmt(m.count, { n })} countLive={false}>
        {(items) => (
          <BundleTable
            bundles={items}
            side="sender"
            testId="inbox"
            actions={(b) => (
              <div className="row-actions">
                <button
                  type="button"
                  disabled={working === b.bundleId}
                  aria-label={fmt(m.downloadFor, { sequence: b.fileSequence })}
                  onClick={() => void download(b)}
                >
                  {m.download}
                </button>
                {b.status !== BundleStatus.ACKNOWLEDGED ? (
                  <button
                    type="button"
                    disabled={working === b.bundleId}
                    aria-label={fmt(m.acknowledgeFor, { sequence: b.fileSequence })}
                    onClick={() => void acknowledge(b)}
                  >
                    {m.acknowledge}
                  </button>
                ) : null}
                {saved[b.bundleId] ? (
                  <div data-testid="downloads">
                    <p className="hint">{m.downloaded}</p>
                    <ul className="plain">
                      {saved[b.bundleId].map((f) => (
                        <li key={f.name}>
                          <a href={f.url} download={f.name} className="filename">
                            {f.name}
                          </a>{" "}
                          <span className="reason">({fmt(m.bytes, { n: f.size })})</span>
                        </li>
                      ))}
                    </ul>
                  </div>
                ) : null}
              </div>
            )}
          />
        )}
      </PagedItems>
    </section>
  );
}
