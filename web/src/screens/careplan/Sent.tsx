// 送信済み: ListSent, newest first, paged.
import { useCallback, useEffect, useState } from "react";
import { CarePlanService } from "../../gen/kaigo/careplan/v1/careplan_service_pb";
import type { Bundle } from "../../gen/kaigo/careplan/v1/bundle_pb";
import { useClient } from "../../app/api";
import { Loading, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useMessages } from "../../app/i18n";
import { BundleTable } from "./BundleTable";
import { messages } from "./messages";

export function Sent() {
  const m = useMessages(messages);
  const client = useClient(CarePlanService);
  const [bundles, setBundles] = useState<Bundle[] | null>(null);
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);

  const load = useCallback(
    async (pageToken: string) => {
      setBusy(true);
      setProblem(null);
      try {
        const res = await client.listSent({ pageSize: 50, pageToken });
        setBundles((prev) => (pageToken && prev ? [...prev, ...res.bundles] : res.bundles));
        setNext(res.nextPageToken);
      } catch (e) {
        setProblem(toProblem(e));
      } finally {
        setBusy(false);
      }
    },
    [client],
  );

  useEffect(() => {
    void load("");
  }, [load]);

  return (
    <section aria-labelledby="careplan-sent">
      <h2 id="careplan-sent">{m.sentTitle}</h2>
      <div className="form-actions">
        <button type="button" onClick={() => void load("")} disabled={busy}>
          {m.refresh}
        </button>
      </div>
      <ProblemAlert problem={problem} />
      {bundles === null ? (
        busy ? <Loading /> : null
      ) : bundles.length === 0 ? (
        <p role="status">{m.empty}</p>
      ) : (
        <>
          <p role="status">{fmt(m.count, { n: bundles.length })}</p>
          <BundleTable bundles={bundles} side="receiver" testId="sent" />
          {next ? (
            <div className="form-actions">
              <button type="button" onClick={() => void load(next)} disabled={busy}>
                {m.more}
              </button>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}
