// One application: where it stands and its timeline, kept current by WatchApplication
// (server streaming over gRPC-Web). A dropped stream resumes after the last step seen.
import { useEffect, useState } from "react";
import { Code, ConnectError } from "@connectrpc/connect";
import { CertificationService } from "../../gen/kaigo/certification/v1/certification_service_pb";
import {
  ApplicationStatus,
  type Application,
  type ApplicationProgress,
  type ApplicationStep,
} from "../../gen/kaigo/certification/v1/application_pb";
import { useClient } from "../../app/api";
import { Loading, PageHeading, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { careLevelLabel, formatDate, formatTimestamp } from "../../app/labels";
import { Link } from "../../app/router";
import { DeadlineBadge } from "./DeadlineBadge";
import { enumText, messages } from "./messages";
import { PersonName } from "./PersonName";
import { personKey, usePeople } from "./people";
import { stepDetail } from "./steps";

const TERMINAL = new Set([ApplicationStatus.NOTIFIED, ApplicationStatus.WITHDRAWN, ApplicationStatus.CANCELLED]);

type LiveState = "connecting" | "live" | "reconnecting" | "done";

function mergeSteps(prev: ApplicationStep[], more: ApplicationStep[]): ApplicationStep[] {
  const bySeq = new Map(prev.map((s) => [s.sequence, s]));
  for (const s of more) bySeq.set(s.sequence, s);
  return [...bySeq.values()].sort((a, b) => Number(a.sequence - b.sequence));
}

export function ApplicationDetail({ applicationId, role }: { applicationId: string; role: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(CertificationService);
  const [app, setApp] = useState<Application | null>(null);
  const [progress, setProgress] = useState<ApplicationProgress | null>(null);
  const [steps, setSteps] = useState<ApplicationStep[]>([]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [live, setLive] = useState<LiveState>("connecting");
  const [announce, setAnnounce] = useState("");

  useEffect(() => {
    const abort = new AbortController();
    let lastSeq = 0n;
    let initial = true;
    (async () => {
      try {
        const [a, p] = await Promise.all([
          client.getApplication({ applicationId }, { signal: abort.signal }),
          client.getApplicationProgress({ applicationId }, { signal: abort.signal }),
        ]);
        if (!a.application) return;
        setApp(a.application);
        setProgress(p.progress ?? null);
        setSteps(a.application.steps);
        for (const s of a.application.steps) if (s.sequence > lastSeq) lastSeq = s.sequence;
        if (TERMINAL.has(a.application.status)) {
          setLive("done");
          return;
        }
      } catch (e) {
        if (!abort.signal.aborted) setProblem(toProblem(e));
        return;
      }
      let delay = 500;
      while (!abort.signal.aborted) {
        try {
          setLive(initial ? "connecting" : "reconnecting");
          const stream = client.watchApplication({ applicationId, afterSequence: lastSeq }, { signal: abort.signal });
          setLive("live");
          for await (const msg of stream) {
            delay = 500;
            if (msg.step) {
              const step = msg.step;
              if (step.sequence > lastSeq) lastSeq = step.sequence;
              setSteps((prev) => mergeSteps(prev, [step]));
              setAnnounce(fmt(m.newStep, { step: enumText(m, "step", step.kind) }));
              // The step's particulars (dates, levels, reasons) live in the application's branches.
              client
                .getApplication({ applicationId }, { signal: abort.signal })
                .then((a) => {
                  if (a.application) setApp(a.application);
                })
                .catch(() => {
                  /* the timeline still shows the step; its particulars follow with the next one */
                });
            }
            if (msg.progress) {
              const p = msg.progress;
              setProgress(p);
              if (TERMINAL.has(p.status)) {
                setLive("done");
                return;
              }
            }
          }
        } catch (e) {
          if (abort.signal.aborted) return;
          const err = ConnectError.from(e);
          if ([Code.PermissionDenied, Code.NotFound, Code.InvalidArgument, Code.Unauthenticated].includes(err.code)) {
            setProblem(toProblem(err));
            setLive("done");
            return;
          }
        }
        initial = false;
        if (abort.signal.aborted) return;
        setLive("reconnecting");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    })();
    return () => abort.abort();
    // messages only feed the announcement text
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, applicationId]);

  const title = m.detailTitle;
  const people = usePeople(app ? [app] : [], role);
  return (
    <>
      <p>
        <Link to="/applications">← {m.back}</Link>
      </p>
      <PageHeading title={`${title} — ${m.title}`}>{title}</PageHeading>
      <ProblemAlert problem={problem} />
      {!app && !problem ? <Loading /> : null}
      {app && progress ? (
        <>
          <section aria-labelledby="app-progress">
            <h2 id="app-progress">{m.progress}</h2>
            <dl className="facts" data-testid="progress">
              <dt>{m.colStatus}</dt>
              <dd data-testid="status">
                <strong>{enumText(m, "status", progress.status)}</strong>
              </dd>
              <dt>{m.colDeadline}</dt>
              <dd>
                <DeadlineBadge m={m} status={progress.deadlineStatus} /> {formatDate(progress.deadlineDate, lang)}
              </dd>
              <dt>{m.colDate}</dt>
              <dd>
                {formatDate(progress.applicationDate, lang)} ({enumText(m, "type", progress.type)})
              </dd>
              <dt>{m.colPerson}</dt>
              <dd data-testid="person">
                <PersonName m={m} person={people.get(personKey(progress))} />
              </dd>
              <dt>{m.colNumbers}</dt>
              <dd>
                {progress.insurerNumber} / {progress.insuredNumber}
              </dd>
              <dt>{m.daysElapsed}</dt>
              <dd>{fmt(m.days, { n: progress.daysElapsed })}</dd>
              <dt>{m.colSurvey}</dt>
              <dd data-testid="survey">{enumText(m, "survey", progress.surveyState)}</dd>
              <dt>{m.colOpinion}</dt>
              <dd data-testid="opinion">{enumText(m, "opinion", progress.opinionState)}</dd>
              {progress.expectedDecisionDate ? (
                <>
                  <dt>{m.expected}</dt>
                  <dd>{formatDate(progress.expectedDecisionDate, lang)}</dd>
                </>
              ) : null}
              {progress.boardDate ? (
                <>
                  <dt>{m.board}</dt>
                  <dd>{formatDate(progress.boardDate, lang)}</dd>
                </>
              ) : null}
              {progress.decidedCareLevel ? (
                <>
                  <dt>{m.decided}</dt>
                  <dd>{careLevelLabel(progress.decidedCareLevel, lang)}</dd>
                </>
              ) : null}
              <dt>{m.pending}</dt>
              <dd>
                {progress.pendingSteps.length ? (
                  <ul className="progress-steps">
                    {progress.pendingSteps.map((k) => (
                      <li key={k} className="badge badge-na">
                        {enumText(m, "step", k)}
                      </li>
                    ))}
                  </ul>
                ) : (
                  m.nonePending
                )}
              </dd>
            </dl>
          </section>
          <section aria-labelledby="app-timeline">
            <h2 id="app-timeline">{m.timeline}</h2>
            <p className="live" data-live={live}>
              {live === "live" ? m.live : live === "done" ? m.liveDone : live === "reconnecting" ? m.reconnecting : ""}
            </p>
            <p className="sr-only" aria-live="polite">
              {announce}
            </p>
            <ol className="timeline" data-testid="timeline">
              {steps.map((s) => {
                const detail = stepDetail(m, lang, s, steps, app);
                return (
                  <li key={String(s.sequence)} data-step-kind={s.kind}>
                    <strong>{enumText(m, "step", s.kind)}</strong>
                    <div className="when">
                      {formatTimestamp(s.occurTime, lang)}
                      {s.actor ? ` — ${fmt(m.by, { who: enumText(m, "role", s.actor.role) })}` : ""}
                    </div>
                    {detail ? <div data-testid="step-detail">{detail}</div> : null}
                  </li>
                );
              })}
            </ol>
          </section>
        </>
      ) : null}
    </>
  );
}
