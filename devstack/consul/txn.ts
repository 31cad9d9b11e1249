import { goJson, HttpError, type RequestContext, type Route, readBody, sendJson } from "./http.ts";
import { entryJson } from "./kv.ts";
import type { KvOp, KvVerb } from "./store.ts";

// /v1/txn, after agent/txn_endpoint.go: a JSON array of operations applied atomically. Only KV operations
// are served (this server has no catalog). 200 with the results when applied, 409 with every failed
// operation's index when rolled back; a body that does not decode is a 400 with Go's decoder text in
// spirit, too many operations or too big a body a 413, each as plain text like the real agent.

const MAX_OPS = 128;
const VERBS: readonly KvVerb[] = [
  "set",
  "cas",
  "lock",
  "unlock",
  "get",
  "get-or-empty",
  "get-tree",
  "check-index",
  "check-session",
  "check-not-exists",
  "delete",
  "delete-tree",
  "delete-cas",
];

export const txnRoutes: Route[] = [{ pattern: "/v1/txn", methods: ["PUT"], handle: txn }];

async function txn(ctx: RequestContext): Promise<void> {
  const max = ctx.settings.maxValueBytes;
  const declared = Number(ctx.req.headers["content-length"] ?? 0);
  if (declared > max) throw new HttpError(413, `Request body too large, max size: ${max} bytes`);
  const { body, size } = await readBody(ctx.req, max);
  if (size > max) throw new HttpError(413, `Request body too large, max size: ${max} bytes`);
  const ops = decodeOps(body.toString("utf8"));
  if (ops.length > MAX_OPS)
    throw new HttpError(413, `Transaction contains too many operations (${ops.length} > ${MAX_OPS})`);
  const outcome = ctx.store.kvTxn(ops);
  const json = outcome.ok
    ? `{"Results":[${outcome.results.map((e) => `{"KV":${entryJson(e)}}`).join(",")}],"Errors":null}`
    : `{"Results":null,"Errors":${goJson(outcome.errors.map((e) => ({ OpIndex: e.opIndex, What: e.what })))}}`;
  sendJson(ctx.res, json, {}, outcome.ok ? 200 : 409);
}

function decodeOps(text: string): KvOp[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `Failed to parse body: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed))
    throw new HttpError(400, "Failed to parse body: expected a JSON array of operations");
  return parsed.map((raw, i) => decodeOp(raw, i));
}

// Field names match case-insensitively, as Go's decoder matches struct fields.
function decodeOp(raw: unknown, i: number): KvOp {
  const fail = (what: string) => new HttpError(400, `Failed to parse body: operation ${i}: ${what}`);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw fail("not an object");
  const kv = field(raw as Record<string, unknown>, "kv");
  if (kv === undefined) throw fail("only KV operations are supported by this server");
  if (typeof kv !== "object" || kv === null || Array.isArray(kv)) throw fail("KV is not an object");
  const f = (name: string) => field(kv as Record<string, unknown>, name);
  const verb = f("verb");
  if (typeof verb !== "string" || !VERBS.includes(verb as KvVerb))
    throw fail(`unknown KV verb ${JSON.stringify(verb)}`);
  const key = f("key") ?? "";
  const session = f("session") ?? "";
  if (typeof key !== "string" || typeof session !== "string") throw fail("Key and Session must be strings");
  const value = f("value");
  if (value !== undefined && value !== null && typeof value !== "string") throw fail("Value must be base64");
  if (typeof value === "string" && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw fail("failed to decode value: illegal base64 data");
  return {
    verb: verb as KvVerb,
    key,
    session,
    value: typeof value === "string" && value !== "" ? Buffer.from(value, "base64") : null,
    flags: uint64(f("flags"), fail),
    index: uint64(f("index"), fail),
  };
}

function field(obj: Record<string, unknown>, lower: string): unknown {
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function uint64(v: unknown, fail: (what: string) => HttpError): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw fail("Flags and Index must be unsigned integers");
  return BigInt(v);
}
