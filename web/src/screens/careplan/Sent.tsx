// 送信済み: ListSent, newest first, paged.
import { CarePlanService } from "../../gen/kaigo/careplan/v1/careplan_service_pb";
import type { Bundle } from "../../gen/kaigo/careplan/v1/bundle_pb";
import { useClient } from "../../app/api";
import { PagedItems, ProblemAlert } from "../../app/components";
import { fmt, useMessages } from "../../app/i18n";
import { usePagedList } from "../../app/usePagedList";
import { BundleTable } from "./BundleTable";
import { messages } from "./messages";

export function Sent() {
  const m = useMessages(messages);
  const client = useClient(CarePlanService);
  const bundles = usePagedList<Bundle>(
    async (pageToken) => {
      const res = await client.listSent({ pageSize: 50, pageToken });
      return { items: res.bundles, nextPageToken: res.nextPageToken };
    },
    [client],
  );

  return (
    <section aria-labelledby="careplan-sent">
      <h2 id="careplan-sent">{m.sentTitle}</h2>
      <div className="form-actions">
        <button type="button" onClick={() => void bundles.refresh()} disabled={bundles.busy}>
          {m.refresh}
        </button>
      </div>
      <ProblemAlert problem={bundles.problem} />
      <PagedItems list={bundles} empty={m.empty} count={(n) => fmt(m.count, { n })}>
        {(items) => <BundleTable bundles={items} side="receiver" testId="sent" />}
      </PagedItems>
    </section>
  );
}
