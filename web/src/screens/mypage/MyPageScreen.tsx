// わたしの情報 (insured_person): my registrations, my consents (withdraw one after a
// confirmation) and who read my record and when (GetMyRelationships, WithdrawMyConsent,
// ListMyRecordReads, merged from every service's read audit and marked partial when one
// does not answer: docs/domain/access.md#access-log), and my own eligibility (CheckEligibility, which
// answers the person on the identity link, docs/domain/access.md#own-view). The identity link
// is the token's subject.
import { useCallback, useEffect, useState } from "react";
import {
  RegistryService,
  type Consent,
  type RecordRead,
  type Registration,
} from "../../gen/kaigo/registry/v1/registry_pb";
import type { PersonRef } from "../../gen/kaigo/registry/v1/registry_pb";
import { EligibilityService, type EligibilityResult } from "../../gen/kaigo/eligibility/v1/eligibility_service_pb";
import { useClient } from "../../app/api";
import { Certificates } from "../eligibility/Certificates";
import { DataTable, Loading, PageHeading, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { formatDate, formatTimestamp, requestId } from "../../app/labels";
import {
  categoryLabel,
  endReasonLabel,
  evidenceLabel,
  granteeText,
  organizationText,
  outcomeLabel,
  personText,
  purposeLabel,
  readCategoryLabel,
  readServiceLabel,
  roleLabel,
  sourceLabel,
} from "../../app/registry";
import type { ScreenProps } from "../types";
import { messages } from "./messages";

export default function MyPageScreen({ session }: ScreenProps) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(RegistryService);
  const eligibility = useClient(EligibilityService);
  const link = session.claims.sub ?? "";
  const [inactive, setInactive] = useState(false);
  const [person, setPerson] = useState<PersonRef | null>(null);
  const [registrations, setRegistrations] = useState<Registration[] | null>(null);
  const [consents, setConsents] = useState<Consent[]>([]);
  const [reads, setReads] = useState<RecordRead[] | null>(null);
  // The services that did not answer the last page, and the token of the next one.
  const [unanswered, setUnanswered] = useState<string[]>([]);
  const [nextPage, setNextPage] = useState("");
  const [mine, setMine] = useState<EligibilityResult | null>(null);
  const [mineProblem, setMineProblem] = useState<ApiProblem | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [ending, setEnding] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const res = await client.getMyRelationships({ identityLink: link, includeInactive: inactive });
      setPerson(res.person ?? null);
      setRegistrations(res.registrations);
      setConsents(res.consents);
      const r = await client.listMyRecordReads({ identityLink: link, pageSize: 50 });
      setReads(r.reads);
      setUnanswered(r.partial ? r.unansweredServices : []);
      setNextPage(r.nextPageToken);
      setProblem(null);
    } catch (e) {
      setProblem(toProblem(e));
      setRegistrations((prev) => prev ?? []);
      setReads((prev) => prev ?? []);
    }
  }, [client, link, inactive]);

  useEffect(() => {
    void load();
  }, [load]);

  const more = async () => {
    try {
      const r = await client.listMyRecordReads({ identityLink: link, pageSize: 50, pageToken: nextPage });
      setReads((prev) => [...(prev ?? []), ...r.reads]);
      setUnanswered(r.partial ? r.unansweredServices : []);
      setNextPage(r.nextPageToken);
    } catch (e) {
      setProblem(toProblem(e));
    }
  };

  // My eligibility today, once the registry has told who I am.
  const insurerNumber = person?.insurerNumber ?? "";
  const insuredNumber = person?.insuredNumber ?? "";
  useEffect(() => {
    if (!insurerNumber || !insuredNumber) return;
    eligibility
      .checkEligibility({ insurerNumber, insuredNumber })
      .then((res) => {
        setMine(res.result ?? null);
        setMineProblem(null);
      })
      .catch((e: unknown) => setMineProblem(toProblem(e)));
  }, [eligibility, insurerNumber, insuredNumber]);

  const act = async (call: () => Promise<unknown>, message: string) => {
    setBusy(true);
    setDone(null);
    try {
      await call();
      setConfirming(null);
      setEnding(null);
      setDone(message);
      await load();
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setBusy(false);
    }
  };
  const withdraw = (consentId: string) =>
    act(() => client.withdrawMyConsent({ requestId: requestId(), identityLink: link, consentId }), m.withdrawDone);
  const endRegistration = (registrationId: string) =>
    act(() => client.endMyRegistration({ requestId: requestId(), identityLink: link, registrationId }), m.endDone);

  if (!link) return <p>{m.noLink}</p>;
  if (registrations === null) return <Loading />;
  return (
    <>
      <PageHeading title={m.title}>{m.title}</PageHeading>
      <p>{m.lead}</p>
      {person ? (
        <p>
          {m.person}: <span translate="no">{personText(person)}</span>
        </p>
      ) : null}
      <ProblemAlert problem={problem} />
      {done ? (
        <p role="status" className="alert alert-info" data-testid="done">
          {done}
        </p>
      ) : null}
      <h2>{m.eligibility}</h2>
      <p>{m.eligibilityLead}</p>
      <ProblemAlert problem={mineProblem} />
      {mine ? (
        <div data-testid="my-eligibility">
          <Certificates result={mine} />
        </div>
      ) : mineProblem ? null : (
        <Loading />
      )}

      <div className="field">
        <label className="checkbox">
          <input type="checkbox" checked={inactive} onChange={(e) => setInactive(e.target.checked)} />
          {m.showInactive}
        </label>
      </div>

      <h2>{m.registrations}</h2>
      {registrations.length === 0 ? (
        <p>{m.registrationsEmpty}</p>
      ) : (
        <DataTable
          testId="my-registrations"
          columns={[m.colOrganization, m.colSince, m.colEvidence, m.colLastService, m.colState, m.colAction]}
        >
          {registrations.map((r) => (
            <tr key={r.registrationId} data-registration-id={r.registrationId}>
              <td>{organizationText(r.organization, lang)}</td>
              <td>{formatDate(r.startDate, lang)}</td>
              <td>{evidenceLabel(r.evidence, lang)}</td>
              <td>{r.lastServiceDate ? formatDate(r.lastServiceDate, lang) : "—"}</td>
              <td>
                {r.endTime ? `${endReasonLabel(r.endReason, lang)}（${formatTimestamp(r.endTime, lang)}）` : m.active}
              </td>
              <td>
                {r.endTime ? null : ending === r.registrationId ? (
                  <div role="alertdialog" aria-label={m.endReg} data-testid="confirm-end">
                    <p>{fmt(m.confirmEnd, { organization: organizationText(r.organization, lang) })}</p>
                    <button type="button" onClick={() => void endRegistration(r.registrationId)} disabled={busy}>
                      {m.endYes}
                    </button>{" "}
                    <button type="button" onClick={() => setEnding(null)} disabled={busy}>
                      {m.confirmNo}
                    </button>
                  </div>
                ) : (
                  <button
                    type="button"
                    aria-label={fmt(m.endRegFor, { organization: organizationText(r.organization, lang) })}
                    onClick={() => {
                      setDone(null);
                      setConfirming(null);
                      setEnding(r.registrationId);
                    }}
                  >
                    {m.endReg}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}

      <h2>{m.consents}</h2>
      {consents.length === 0 ? (
        <p>{m.consentsEmpty}</p>
      ) : (
        <DataTable
          testId="my-consents"
          columns={[m.colGrantee, m.colCategories, m.colPurpose, m.colSource, m.colValid, m.colAction]}
        >
          {consents.map((c) => {
            const grantee = granteeText(c, lang);
            const from = formatDate(c.validFrom, lang);
            return (
              <tr key={c.consentId} data-consent-id={c.consentId}>
                <td>{grantee}</td>
                <td>
                  <ul className="plain">
                    {c.categories.map((k) => (
                      <li key={k}>{categoryLabel(k, lang)}</li>
                    ))}
                  </ul>
                </td>
                <td>{purposeLabel(c.purpose, lang)}</td>
                <td>{sourceLabel(c.source, lang)}</td>
                <td>
                  {c.validUntil
                    ? fmt(m.validRange, { from, until: formatDate(c.validUntil, lang) })
                    : fmt(m.validFrom, { from })}
                </td>
                <td>
                  {c.withdrawTime ? (
                    fmt(m.withdrawn, { when: formatTimestamp(c.withdrawTime, lang) })
                  ) : confirming === c.consentId ? (
                    <div role="alertdialog" aria-label={m.withdraw} data-testid="confirm-withdraw">
                      <p>{fmt(m.confirmWithdraw, { grantee })}</p>
                      <button type="button" onClick={() => void withdraw(c.consentId)} disabled={busy}>
                        {m.confirmYes}
                      </button>{" "}
                      <button type="button" onClick={() => setConfirming(null)} disabled={busy}>
                        {m.confirmNo}
                      </button>
                    </div>
                  ) : (
                    <button
                      type="button"
                      aria-label={fmt(m.withdrawFor, { grantee })}
                      onClick={() => {
                        setDone(null);
                        setEnding(null);
                        setConfirming(c.consentId);
                      }}
                    >
                      {m.withdraw}
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}

      <h2>{m.reads}</h2>
      <p>{m.readsLead}</p>
      <div className="form-actions">
        <button type="button" onClick={() => void load()}>
          {m.refresh}
        </button>
      </div>
      {unanswered.length > 0 ? (
        <p className="alert alert-info" role="status" data-testid="reads-partial">
          {fmt(m.readsPartial, {
            services: unanswered.map((s) => readServiceLabel(s, lang) ?? s).join(lang === "ja" ? "、" : ", "),
          })}
        </p>
      ) : null}
      {reads === null ? (
        <Loading />
      ) : reads.length === 0 ? (
        <p>{m.readsEmpty}</p>
      ) : (
        <DataTable testId="my-reads" columns={[m.colTime, m.colService, m.colReader, m.colWhat, m.colOutcome]}>
          {reads.map((r, i) => (
            <tr
              key={i}
              data-outcome={r.outcome}
              data-category={r.category}
              data-reader={r.readerOrganization}
              data-service={r.service}
              data-self={r.readerIsSelf ? "true" : undefined}
            >
              <td>{formatTimestamp(r.readTime, lang)}</td>
              <td>{readServiceLabel(r.service, lang) ?? <code>{r.service}</code>}</td>
              <td>
                {r.readerIsSelf ? m.self : roleLabel(r.readerRole, lang)}
                {r.readerOrganization ? (
                  <>
                    {" "}
                    <span translate="no">{r.readerOrganization}</span>
                  </>
                ) : null}
              </td>
              <td>{readCategoryLabel(r.category, lang) ?? <code>{r.category}</code>}</td>
              <td>{outcomeLabel(r.outcome, lang) ?? <code>{r.outcome}</code>}</td>
            </tr>
          ))}
        </DataTable>
      )}
      {nextPage ? (
        <div className="form-actions">
          <button type="button" onClick={() => void more()}>
            {m.readsMore}
          </button>
        </div>
      ) : null}
    </>
  );
}
