// One submitted opinion version (GetOpinion, purpose 意見書作成), with its attachments' metadata.
import { useEffect, useState } from "react";
import { DocumentService, type Attachment } from "../../gen/kaigo/documents/v1/documents_service_pb";
import type { Opinion } from "../../gen/kaigo/documents/v1/opinion_pb";
import { Purpose } from "../../gen/kaigo/common/v1/access_pb";
import { useClient } from "../../app/api";
import { Loading, PageHeading, ProblemAlert } from "../../app/components";
import { toProblem, type ApiProblem } from "../../app/errors";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { byteSize, formatDate, formatTimestamp } from "../../app/labels";
import { Link } from "../../app/router";
import * as E from "./enums";
import { messages } from "./messages";

export function OpinionView({ opinionId }: { opinionId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const client = useClient(DocumentService);
  const [o, setO] = useState<Opinion | null>(null);
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const res = await client.getOpinion({ opinionId, purpose: Purpose.OPINION_WRITING });
        const op = res.opinion!;
        const atts = await Promise.all(
          op.attachmentIds.map(async (attachmentId) => (await client.getAttachment({ attachmentId })).attachment!),
        );
        if (!live) return;
        setO(op);
        setAttachments(atts);
      } catch (e) {
        if (live) setProblem(toProblem(e));
      }
    })();
    return () => {
      live = false;
    };
  }, [client, opinionId]);

  const heading = o ? `${m.viewTitle}（${fmt(m.revision, { n: o.revision })}）` : m.viewTitle;
  return (
    <>
      <PageHeading title={`${m.viewTitle} — ${m.title}`}>{heading}</PageHeading>
      <p>
        <Link to="/opinions">{m.back}</Link>
      </p>
      <ProblemAlert problem={problem} />
      {!o ? (
        problem ? null : (
          <Loading />
        )
      ) : (
        <dl className="facts" data-testid="opinion-view">
          <dt>{m.status}</dt>
          <dd>{E.label(E.OPINION_STATUS, o.status, lang)}</dd>
          <dt>{m.submittedAt}</dt>
          <dd>{formatTimestamp(o.submitTime, lang)}</dd>
          <dt>{m.formEdition}</dt>
          <dd>{E.label(E.FORM_EDITION, o.formEdition, lang)}</dd>
          <dt>{m.writtenDate}</dt>
          <dd>{formatDate(o.basics?.writtenDate, lang)}</dd>
          <dt>{m.physicianName}</dt>
          <dd>{o.basics?.physicianName}</dd>
          <dt>{m.institutionName}</dt>
          <dd>{o.basics?.institutionName}</dd>
          <dt>{m.diagnoses}</dt>
          <dd>
            <ol>
              {o.disease?.diagnoses.map((d, i) => (
                <li key={i}>
                  {d.name}（{d.onsetDate?.year ?? ""}
                  {d.onsetDate?.month ? `-${d.onsetDate.month}` : ""}
                  {d.onsetDate?.day ? `-${d.onsetDate.day}` : ""}）
                  {d.specifiedDisease ? ` — ${E.label(E.SPECIFIED_DISEASE, d.specifiedDisease, lang)}` : ""}
                </li>
              ))}
            </ol>
          </dd>
          <dt>{m.stability}</dt>
          <dd>{E.label(E.STABILITY, o.disease?.stability ?? 0, lang)}</dd>
          <dt>{m.course}</dt>
          <dd>{o.disease?.courseAndTreatment}</dd>
          <dt>{m.secSpecial}</dt>
          <dd>{o.specialMedicalCare.map((c) => E.label(E.SPECIAL_CARE, c, lang)).join("、") || m.none}</dd>
          <dt>{m.disability}</dt>
          <dd>{E.label(E.DISABILITY, o.mentalPhysical?.disabilityLevel ?? 0, lang)}</dd>
          <dt>{m.dementia}</dt>
          <dd>{E.label(E.DEMENTIA, o.mentalPhysical?.dementiaLevel ?? 0, lang)}</dd>
          <dt>{m.remarks}</dt>
          <dd>{o.remarks || m.none}</dd>
          <dt>{m.attachments}</dt>
          <dd>
            {attachments.length ? (
              <ul className="plain" data-testid="view-attachments">
                {attachments.map((a) => (
                  <li key={a.attachmentId} data-attachment-id={a.attachmentId}>
                    <span className="filename" translate="no">
                      {a.fileName}
                    </span>{" "}
                    <span className="reason">
                      (<span translate="no">{a.contentType}</span>, {byteSize(a.sizeBytes, lang)}, {m.sha}{" "}
                      <span translate="no">{a.sha256Hex.slice(0, 16)}…</span>)
                    </span>
                  </li>
                ))}
              </ul>
            ) : (
              m.none
            )}
          </dd>
        </dl>
      )}
    </>
  );
}
