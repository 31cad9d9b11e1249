// What every source's parser shares: the JSON object check, the id alphabet and the integer ranges.
// Validation is hand-written because it runs on every event at 100k events/s; it names the first bad field
// so a dead letter says why it was rejected. Ids become Redis keys and members, so they are restricted to a
// small alphabet and length here, at the edge, rather than trusted downstream. The schemas themselves live
// with their sources (common/sources/).

export type Parsed<T> = { ok: true; event: T } | { ok: false; reason: string };

export type Json = Record<string, unknown>;

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
// Event times outside this window are garbage, not late data: 2000-01-01 .. 2100-01-01.
export const MIN_TIME = 946_684_800_000;
export const MAX_TIME = 4_102_444_800_000;
/** One billion in cents: far above any single order, payment or refund. */
export const MAX_CENTS = 1_000_000_000_00;

function parseObject(raw: Buffer | string | null): Json | string {
  if (raw === null) return "unparseable";
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch {
    return "unparseable";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not_an_object";
  return value as Json;
}

export function badId(o: Json, field: string): boolean {
  const v = o[field];
  return typeof v !== "string" || !ID.test(v);
}

/** An optional id: absent (undefined) is fine, anything else must be a valid id. */
export function badOptionalId(o: Json, field: string): boolean {
  return o[field] !== undefined && badId(o, field);
}

export function badInt(o: Json, field: string, min: number, max: number): boolean {
  const v = o[field];
  return typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max;
}

export function badEventTime(o: Json): boolean {
  return badInt(o, "eventTime", MIN_TIME, MAX_TIME);
}

/**
 * A parser from a schema check: `problem` names the first bad field (plain if-chains rather than a table of
 * checks, so nothing is allocated per event) or returns null for a valid record.
 */
export function parserOf<T>(problem: (o: Json) => string | null): (raw: Buffer | string | null) => Parsed<T> {
  return (raw) => {
    const o = parseObject(raw);
    if (typeof o === "string") return { ok: false, reason: o };
    const bad = problem(o);
    return bad ? { ok: false, reason: bad } : { ok: true, event: o as unknown as T };
  };
}
