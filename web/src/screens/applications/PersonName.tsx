import type { M } from "./messages";
import type { Person } from "./people";

/** 氏名 over フリガナ; or a note that the name is withheld from this caller or not available. */
export function PersonName({ m, person }: { m: M; person: Person | undefined }) {
  if (!person) return <span className="hint">{m.personLoading}</span>;
  if (person.kind === "named") {
    return (
      <span data-person="named">
        {person.nameKanji}
        {person.nameKana ? (
          <>
            <br />
            <span className="kana">{person.nameKana}</span>
          </>
        ) : null}
      </span>
    );
  }
  return (
    <span className="hint" data-person={person.kind}>
      {person.kind === "withheld" ? m.personWithheld : m.personUnavailable}
    </span>
  );
}
