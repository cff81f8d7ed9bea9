// Who an application is about, as a care manager recognises them: 氏名 and フリガナ.
// Certification keeps numbers only; the names belong to the insurer's register in the
// eligibility service, whose access rules decide who sees them (the insurer, or an office
// registered for the person with the person's consent). One BatchCheckEligibility per page of rows;
// a person whose details are withheld is shown by number, marked as such.
import { useEffect, useState } from "react";
import { Purpose } from "../../gen/kaigo/common/v1/access_pb";
import {
  EligibilityService,
  WithheldSection,
  type BatchCheckEligibilityEntry,
} from "../../gen/kaigo/eligibility/v1/eligibility_service_pb";
import { useClient } from "../../app/api";

export type Person =
  | { kind: "named"; nameKanji: string; nameKana: string }
  /** The access rules withhold the name from this caller. */
  | { kind: "withheld" }
  /** Not known, or the register could not be asked. */
  | { kind: "unavailable" };

export interface PersonKey {
  insurerNumber: string;
  insuredNumber: string;
}

export function personKey(p: PersonKey): string {
  return `${p.insurerNumber}/${p.insuredNumber}`;
}

const MAX_BATCH = 1000;

/** Refusals of an entry by the access rules (docs/domain/access.md#facts-copy): the caller is
 * not registered for the person, lacks the person's consent, or may never see it. */
const WITHHELD_REASONS = new Set(["PERMISSION_DENIED", "NOT_REGISTERED", "CONSENT_REQUIRED", "NOT_PERMITTED"]);

/** What one entry of a batch check says about the person's name. */
export function personFrom(e: BatchCheckEligibilityEntry): Person {
  if (e.outcome.case === "result") {
    const r = e.outcome.value;
    if (r.person && r.person.nameKanji) {
      return { kind: "named", nameKanji: r.person.nameKanji, nameKana: r.person.nameKana };
    }
    return r.withheld.includes(WithheldSection.PERSONAL_DETAILS) ? { kind: "withheld" } : { kind: "unavailable" };
  }
  if (e.outcome.case === "error" && WITHHELD_REASONS.has(e.outcome.value.reason)) return { kind: "withheld" };
  return { kind: "unavailable" };
}

/** Names of the persons of `keys`, by personKey; entries appear as their answers arrive. */
export function usePeople(keys: readonly PersonKey[], role: string): Map<string, Person> {
  const client = useClient(EligibilityService);
  const [people, setPeople] = useState<Map<string, Person>>(new Map());
  const wanted = [...new Set(keys.map(personKey))].sort();
  const dep = wanted.join(",");
  useEffect(() => {
    const missing = dep ? dep.split(",").filter((k) => !people.has(k)) : [];
    if (!missing.length) return;
    const abort = new AbortController();
    const purpose = role === "insurer" ? Purpose.CERTIFICATION : Purpose.CARE_PLANNING;
    (async () => {
      const found = new Map<string, Person>();
      for (let i = 0; i < missing.length; i += MAX_BATCH) {
        const chunk = missing.slice(i, i + MAX_BATCH);
        try {
          const res = await client.batchCheckEligibility(
            {
              purpose,
              queries: chunk.map((k) => {
                const [insurerNumber, insuredNumber] = k.split("/");
                return { insurerNumber, insuredNumber };
              }),
            },
            { signal: abort.signal },
          );
          for (const e of res.entries) {
            const k = chunk[e.index];
            if (k !== undefined) found.set(k, personFrom(e));
          }
        } catch {
          if (abort.signal.aborted) return;
          for (const k of chunk) if (!found.has(k)) found.set(k, { kind: "unavailable" });
        }
      }
      if (!abort.signal.aborted) setPeople((prev) => new Map([...prev, ...found]));
    })();
    return () => abort.abort();
    // `people` is read only to skip persons already known
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, dep, role]);
  return people;
}
