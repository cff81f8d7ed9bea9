/**
 * What people type with the Japanese IME on: full-width digits, letters and signs
 * (０１２, ＡＢＣ, －) and the ideographic space. The API accepts only half-width identifiers
 * and numbers, so screens convert before calling (the API's refusal still names the rule when
 * something else is wrong). Kana and kanji are left alone.
 */

/** Full-width ASCII variants (U+FF01–U+FF5E) to their ASCII form; U+3000 to a space. */
export function toHalfWidth(s: string): string {
  return s.replace(/[\uFF01-\uFF5E\u3000]/g, (c) =>
    c === "\u3000" ? " " : String.fromCharCode(c.charCodeAt(0) - 0xfee0),
  );
}

/**
 * An identifier as typed (保険者番号, 被保険者番号, 事業所番号, 医療機関コード …): half-width,
 * without surrounding spaces, letters in upper case (no identifier uses lower case).
 */
export function identifierInput(s: string): string {
  return toHalfWidth(s).trim().toUpperCase();
}

/** A number as typed: half-width and trimmed (an empty string stays empty). */
export function numberInput(s: string): string {
  return toHalfWidth(s).trim();
}
