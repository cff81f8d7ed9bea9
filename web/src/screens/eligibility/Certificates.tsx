// The three certificates (被保険者証 / 負担割合証 / 負担限度額認定証) as definition lists.
import type { ReactNode } from "react";
import { WithheldSection, type EligibilityResult } from "../../gen/kaigo/eligibility/v1/eligibility_service_pb";
import { EligibilityVerdict } from "../../gen/kaigo/eligibility/v1/eligibility_service_pb";
import { CopaymentRatio } from "../../gen/kaigo/eligibility/v1/records_pb";
import { DataTable } from "../../app/components";
import { fmt, useLang, useMessages } from "../../app/i18n";
import { careLevelLabel, formatDate, formatPeriod, insuredCategoryLabel, sexLabel, yen } from "../../app/labels";
import { messages } from "./messages";

type M = (typeof messages)["ja"];

function Row({ label, children, testid }: { label: string; children: ReactNode; testid?: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testid}>{children}</dd>
    </>
  );
}

function Withheld({ m, section }: { m: M; section: WithheldSection }) {
  return (
    <p className="withheld-note">
      <strong>{m.withheld}</strong>: {m[`withheld_${section}` as keyof M]}
    </p>
  );
}

/** A certificate card that the API may withhold as a whole: then it says why instead. */
function WithholdableCard({
  id,
  title,
  section,
  withheld,
  m,
  children,
}: {
  id: string;
  title: string;
  section: WithheldSection;
  withheld: ReadonlySet<WithheldSection>;
  m: M;
  children: ReactNode;
}) {
  const isWithheld = withheld.has(section);
  return (
    <section className={isWithheld ? "card withheld" : "card"} aria-labelledby={id} data-testid={id}>
      <h2 id={id}>{title}</h2>
      {isWithheld ? <Withheld m={m} section={section} /> : children}
    </section>
  );
}

// The paper 被保険者証 and 負担割合証 write dates in the era; the birth date also gets its
// Western year, the periods (two dates on one line) do not.
const ERA = { era: true } as const;
const BIRTH = { era: true, western: true } as const;

export function Certificates({ result }: { result: EligibilityResult }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  if (result.verdict === EligibilityVerdict.NOT_INSURED) return null;
  const withheld = new Set(result.withheld);
  const cert = result.certification;
  const person = result.person;

  return (
    <div className="cards">
      <section className="card" aria-labelledby="card-insured" data-testid="card-insured">
        <h2 id="card-insured">{m.insuredCard}</h2>
        <dl className="facts">
          <Row label={m.number}>{result.insuredNumber}</Row>
          {person ? (
            <>
              <Row label={m.kana}>{person.nameKana}</Row>
              <Row label={m.name}>{person.nameKanji}</Row>
              <Row label={m.birth}>{formatDate(person.birthDate, lang, BIRTH)}</Row>
              <Row label={m.sex}>{sexLabel(person.sex, lang)}</Row>
            </>
          ) : null}
          <Row label={m.insurerNumber}>{result.insurerNumber}</Row>
          <Row label={m.category}>{insuredCategoryLabel(result.insuredCategory, lang)}</Row>
          <Row label={m.acquired}>{formatDate(result.qualificationAcquiredDate, lang, ERA)}</Row>
          {result.qualificationLostDate ? (
            <Row label={m.lost}>{formatDate(result.qualificationLostDate, lang, ERA)}</Row>
          ) : null}
          {cert ? (
            <>
              <Row label={m.careLevel} testid="care-level">
                <span className="big">{careLevelLabel(cert.careLevel, lang)}</span>
              </Row>
              <Row label={m.certifiedDate}>{formatDate(cert.certifiedDate, lang, ERA)}</Row>
              <Row label={m.validity}>{formatPeriod(cert.validity, lang, ERA)}</Row>
              <Row label={m.limit}>
                {cert.limitUnitsPerMonth
                  ? fmt(m.limitValue, { units: cert.limitUnitsPerMonth.toLocaleString("ja-JP") })
                  : "—"}
              </Row>
              {cert.serviceTypeLimits.length ? (
                <Row label={m.typeLimits}>
                  {cert.serviceTypeLimits
                    .map((l) => `${l.serviceType}: ${fmt(m.limitValue, { units: l.limitUnitsPerMonth })}`)
                    .join("、")}
                </Row>
              ) : null}
              <Row label={m.opinion}>
                {[cert.reviewBoardOpinion, cert.designatedServiceTypes.join("・")].filter(Boolean).join(" / ") ||
                  m.none}
              </Row>
            </>
          ) : !withheld.has(WithheldSection.CERTIFICATE) ? (
            <Row label={m.careLevel} testid="care-level">
              {m.noCert}
            </Row>
          ) : null}
          {!withheld.has(WithheldSection.CERTIFICATE) ? (
            <>
              <Row label={m.restrictions}>
                {result.benefitRestrictions.length
                  ? result.benefitRestrictions
                      .map(
                        (r) =>
                          `${fmt(m[`restr_${r.kind}` as keyof M] ?? "", { percent: r.reducedCopaymentPercent })} ${formatPeriod(r.period, lang, ERA)}`,
                      )
                      .join("、")
                  : m.none}
              </Row>
              <Row label={m.careManagement}>
                {result.careManagement ? (
                  <>
                    {m[`cm_${result.careManagement.kind}` as keyof M]} {result.careManagement.officeName}{" "}
                    {result.careManagement.officeNumber}
                    {result.careManagement.notificationDate
                      ? ` (${fmt(m.notified, { date: formatDate(result.careManagement.notificationDate, lang, ERA) })})`
                      : ""}
                  </>
                ) : (
                  m.none
                )}
              </Row>
              {result.residenceException ? (
                <Row label={m.residence}>
                  {result.residenceException.facilityName} ({result.residenceException.facilityMunicipalityCode}){" "}
                  {formatPeriod(result.residenceException.period, lang, ERA)}
                </Row>
              ) : null}
            </>
          ) : null}
        </dl>
        {withheld.has(WithheldSection.PERSONAL_DETAILS) ? (
          <Withheld m={m} section={WithheldSection.PERSONAL_DETAILS} />
        ) : null}
        {withheld.has(WithheldSection.CERTIFICATE) ? <Withheld m={m} section={WithheldSection.CERTIFICATE} /> : null}
      </section>

      <WithholdableCard
        id="card-copay"
        title={m.copayCard}
        section={WithheldSection.COPAYMENT}
        withheld={withheld}
        m={m}
      >
        {result.copayment ? (
          <dl className="facts">
            <Row label={m.number}>{result.insuredNumber}</Row>
            <Row label={m.ratio} testid="copayment-ratio">
              <span className="big">{m[`ratio_${result.copayment.ratio}` as keyof M] ?? "—"}</span>
            </Row>
            {result.certificateCopaymentRatio !== CopaymentRatio.UNSPECIFIED &&
            result.certificateCopaymentRatio !== result.copayment.ratio ? (
              // Under 給付額減額 the answer's ratio is the raised one; the certificate's is shown beside it.
              <Row label={m.certificateRatio} testid="certificate-copayment-ratio">
                {m[`ratio_${result.certificateCopaymentRatio}` as keyof M] ?? "—"}
              </Row>
            ) : null}
            <Row label={m.ratioPeriod}>{formatPeriod(result.copayment.period, lang, ERA)}</Row>
            <Row label={m.insurerNumber}>{result.insurerNumber}</Row>
          </dl>
        ) : (
          <p data-testid="copayment-ratio">{m.noCopay}</p>
        )}
      </WithholdableCard>

      <WithholdableCard
        id="card-cost"
        title={m.costCard}
        section={WithheldSection.COST_LIMIT}
        withheld={withheld}
        m={m}
      >
        {result.costLimit ? (
          <>
            <dl className="facts">
              <Row label={m.stage} testid="cost-stage">
                <span className="big">{m[`stage_${result.costLimit.stage}` as keyof M] ?? "—"}</span>
              </Row>
              <Row label={m.stagePeriod}>{formatPeriod(result.costLimit.period, lang, ERA)}</Row>
            </dl>
            {result.costLimit.dailyCaps ? (
              <DataTable caption={m.caps} columns={[m.capItem, m.capAmount]}>
                {(
                  [
                    [m.meal_facility, result.costLimit.dailyCaps.mealFacilityYen],
                    [m.meal_short, result.costLimit.dailyCaps.mealShortStayYen],
                    [m.unit_private, result.costLimit.dailyCaps.unitPrivateRoomYen],
                    [m.unit_semi, result.costLimit.dailyCaps.unitSemiPrivateRoomYen],
                    [m.conv_welfare, result.costLimit.dailyCaps.conventionalPrivateRoomWelfareYen],
                    [m.conv_health, result.costLimit.dailyCaps.conventionalPrivateRoomHealthYen],
                    [m.multi, result.costLimit.dailyCaps.multiBedRoomYen],
                  ] as const
                ).map(([label, v]) => (
                  <tr key={label}>
                    <th scope="row">{label}</th>
                    <td>{yen(v, lang)}</td>
                  </tr>
                ))}
              </DataTable>
            ) : null}
          </>
        ) : (
          <p>{m.noCost}</p>
        )}
      </WithholdableCard>
    </div>
  );
}
