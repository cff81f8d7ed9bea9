// Pieces the applicant's subsidy screen and the operator's review share: the programmes as the
// options of a select, and the lines of a calculation as a table.
import type { CalculationLine, Programme } from "../gen/kaigo/subsidies/v1/subsidy_pb";
import { DataTable } from "./components";
import type { Lang } from "./i18n";
import { yen } from "./labels";

/** One option per programme: its id as the value, its title as the text. */
export function ProgrammeOptions({ programmes }: { programmes: readonly Programme[] }) {
  return (
    <>
      {programmes.map((pr) => (
        <option key={pr.programmeId} value={pr.programmeId}>
          {pr.title}
        </option>
      ))}
    </>
  );
}

/** The lines of a calculation (description, amount in yen), each row carrying its line code. */
export function BreakdownTable({
  lines,
  caption,
  columns,
  lang,
}: {
  lines: readonly CalculationLine[];
  caption: string;
  columns: readonly string[];
  lang: Lang;
}) {
  return (
    <DataTable testId="breakdown" caption={caption} columns={columns}>
      {lines.map((l, i) => (
        <tr key={i} data-code={l.code}>
          <th scope="row">{l.description}</th>
          <td>{yen(l.amountYen, lang)}</td>
        </tr>
      ))}
    </DataTable>
  );
}
