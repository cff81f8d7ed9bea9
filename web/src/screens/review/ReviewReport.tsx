// The operator's report for one programme (GetReport): per prefecture, and per prefecture,
// applicant kind and category as the API gives the rows; approved against paid, with the total.
import { useEffect, useState } from "react";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { SubsidyService } from "../../gen/kaigo/subsidies/v1/subsidies_service_pb";
import type { Programme, ReportRow } from "../../gen/kaigo/subsidies/v1/subsidy_pb";
import { useClient } from "../../app/api";
import { DataTable, Field, Loading, ProblemAlert } from "../../app/components";
import { ProgrammeOptions } from "../../app/subsidies";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages, type Lang } from "../../app/i18n";
import { formatTimestamp, yen } from "../../app/labels";
import { categoryText } from "./common";
import { enumText, messages, type M } from "./messages";
import { PREFECTURE_CODES, prefectureName } from "./prefectures";

const SCOPE = "report";

interface Totals {
  submitted: number;
  approved: number;
  approvedYen: bigint;
  paid: number;
  paidYen: bigint;
  rejected: number;
}

function totals(r: ReportRow | undefined): Totals {
  return {
    submitted: r?.submittedCount ?? 0,
    approved: r?.approvedCount ?? 0,
    approvedYen: r?.approvedAmountYen ?? 0n,
    paid: r?.paidCount ?? 0,
    paidYen: r?.paidAmountYen ?? 0n,
    rejected: r?.rejectedCount ?? 0,
  };
}

function add(a: Totals, b: Totals): Totals {
  return {
    submitted: a.submitted + b.submitted,
    approved: a.approved + b.approved,
    approvedYen: a.approvedYen + b.approvedYen,
    paid: a.paid + b.paid,
    paidYen: a.paidYen + b.paidYen,
    rejected: a.rejected + b.rejected,
  };
}

/** The figure columns of both tables. */
function figureColumns(m: M): string[] {
  return [
    m.colSubmittedCount,
    m.colApprovedCount,
    m.colApprovedAmount,
    m.colPaidCount,
    m.colPaidAmount,
    m.colUnpaid,
    m.colRejectedCount,
  ];
}

function Figures({ t, lang }: { t: Totals; lang: Lang }) {
  return (
    <>
      <td data-col="submitted">{t.submitted}</td>
      <td data-col="approved">{t.approved}</td>
      <td data-col="approved-yen" data-yen={String(t.approvedYen)}>
        {yen(t.approvedYen, lang)}
      </td>
      <td data-col="paid">{t.paid}</td>
      <td data-col="paid-yen" data-yen={String(t.paidYen)}>
        {yen(t.paidYen, lang)}
      </td>
      <td data-col="unpaid-yen" data-yen={String(t.approvedYen - t.paidYen)}>
        {yen(t.approvedYen - t.paidYen, lang)}
      </td>
      <td data-col="rejected">{t.rejected}</td>
    </>
  );
}

export function ReviewReport() {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(SubsidyService);
  const [programmes, setProgrammes] = useState<Programme[] | null>(null);
  const [programmeId, setProgrammeId] = useState("");
  const [prefecture, setPrefecture] = useState("");
  const [report, setReport] = useState<{ rows: ReportRow[]; total?: ReportRow; computeTime?: Timestamp } | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    (async () => {
      try {
        const res = await client.listProgrammes({ pageSize: 100 });
        setProgrammes(res.programmes);
        if (res.programmes[0]) setProgrammeId(res.programmes[0].programmeId);
      } catch (e) {
        setProblem(toProblem(e));
        setProgrammes([]);
      }
    })();
  }, [client]);

  useEffect(() => {
    if (!programmeId) return;
    let current = true;
    setBusy(true);
    (async () => {
      try {
        const res = await client.getReport({ programmeId, prefectureCode: prefecture });
        if (!current) return;
        setReport({ rows: res.rows, total: res.total, computeTime: res.computeTime });
        setProblem(null);
      } catch (e) {
        if (!current) return;
        setReport(null);
        setProblem(toProblem(e));
      } finally {
        if (current) setBusy(false);
      }
    })();
    return () => {
      current = false;
    };
  }, [client, programmeId, prefecture]);

  if (programmes === null) return <Loading />;
  const programme = programmes.find((p) => p.programmeId === programmeId);

  // Rows of the same prefecture summed (the API orders by prefecture).
  const byPrefecture = new Map<string, Totals>();
  for (const r of report?.rows ?? []) {
    byPrefecture.set(r.prefectureCode, add(byPrefecture.get(r.prefectureCode) ?? totals(undefined), totals(r)));
  }
  const total = totals(report?.total);

  return (
    <>
      <div className="form-grid">
        <Field scope={SCOPE} field="programme_id" label={m.reportProgramme} problem={problem} required>
          {(p) => (
            <select {...p} value={programmeId} onChange={(e) => setProgrammeId(e.target.value)}>
              <ProgrammeOptions programmes={programmes} />
            </select>
          )}
        </Field>
        <Field scope={SCOPE} field="prefecture_code" label={m.reportPrefecture} problem={problem}>
          {(p) => (
            <select {...p} value={prefecture} onChange={(e) => setPrefecture(e.target.value)}>
              <option value="">{m.allPrefectures}</option>
              {PREFECTURE_CODES.map((c) => (
                <option key={c} value={c}>
                  {c} {prefectureName(c, lang)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <ProblemAlert problem={problem} scope={SCOPE} claimed={["programme_id", "prefecture_code"]} />
      {busy ? <Loading /> : null}
      {report ? (
        <>
          <p className="live" data-testid="computed">
            {fmt(m.computed, { time: formatTimestamp(report.computeTime, lang) })}
          </p>
          {report.rows.length === 0 ? (
            <p role="status">{m.reportEmpty}</p>
          ) : (
            <>
              <DataTable
                testId="report-prefectures"
                caption={m.byPrefecture}
                columns={[m.colPrefecture, ...figureColumns(m)]}
              >
                {[...byPrefecture.entries()].map(([code, t]) => (
                  <tr key={code} data-prefecture={code}>
                    <th scope="row">{prefectureName(code, lang)}</th>
                    <Figures t={t} lang={lang} />
                  </tr>
                ))}
                <tr data-total="">
                  <th scope="row">{m.total}</th>
                  <Figures t={total} lang={lang} />
                </tr>
              </DataTable>
              <DataTable
                testId="report-categories"
                caption={m.byCategory}
                columns={[m.colPrefecture, m.colKind, m.colCategory, ...figureColumns(m)]}
              >
                {report.rows.map((r) => (
                  <tr
                    key={`${r.prefectureCode}/${r.applicantKind}/${r.categoryKey}`}
                    data-prefecture={r.prefectureCode}
                    data-category={r.categoryKey}
                  >
                    <th scope="row">{prefectureName(r.prefectureCode, lang)}</th>
                    <td>{enumText(m, "kind", r.applicantKind)}</td>
                    <td>{categoryText(r.categoryKey, programme)}</td>
                    <Figures t={totals(r)} lang={lang} />
                  </tr>
                ))}
                <tr data-total="">
                  <th scope="row" colSpan={3}>
                    {m.total}
                  </th>
                  <Figures t={total} lang={lang} />
                </tr>
              </DataTable>
            </>
          )}
        </>
      ) : null}
    </>
  );
}
