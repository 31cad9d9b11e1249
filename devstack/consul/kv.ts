import { blockingQuery, parseQueryOptions, type QueryOptions } from "./blocking.ts";
import {
  encodeQuery,
  goJson,
  HttpError,
  parseUint64,
  type RequestContext,
  type Route,
  readBody,
  sendEmpty,
  sendJson,
  sendText,
} from "./http.ts";
import type { KvEntry } from "./store.ts";

// /v1/kv/<key>, after agent/kvs_endpoint.go. Query flags count by presence (`?recurse=false` still
// recurses), the key is the URL-decoded rest of the path, and only CAS writes and deletes, lock and unlock
// can answer `false`.

const PREFIX = "/v1/kv/";
const MAX_VALUE_DOC = "https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size";

export const kvRoutes: Route[] = [
  {
    pattern: PREFIX,
    methods: ["GET", "PUT", "DELETE"],
    handle: async (ctx) => {
      const opts = parseQueryOptions(ctx.query);
      const key = ctx.path.slice(PREFIX.length);
      if (ctx.req.method === "PUT") return put(ctx, key);
      if (ctx.req.method === "DELETE") return del(ctx, key);
      if (ctx.query.has("keys")) return getKeys(ctx, opts, key);
      return get(ctx, opts, key);
    },
  },
];

function get(ctx: RequestContext, opts: QueryOptions, key: string): void {
  const { store, res } = ctx;
  if (ctx.query.has("recurse")) {
    blockingQuery(ctx, opts, { kind: "prefix", prefix: key }, () => {
      const { index, entries } = store.kvList(key);
      return {
        index,
        send: (h) =>
          entries.length === 0
            ? sendEmpty(res, 404, h)
            : sendJson(res, `[${entries.map(entryJson).join(",")}]`, h),
      };
    });
    return;
  }
  if (key === "") throw new HttpError(400, "Missing key name");
  const raw = ctx.query.has("raw");
  blockingQuery(ctx, opts, { kind: "key", key }, () => {
    const { index, entry } = store.kvGet(key);
    return {
      index,
      send: (h) => {
        if (!entry) sendEmpty(res, 404, h);
        else if (raw) sendRaw(ctx, entry.value, h);
        else sendJson(res, `[${entryJson(entry)}]`, h);
      },
    };
  });
}

// Raw values are served as inert text so that a browser never runs a stored value as a page.
function sendRaw(ctx: RequestContext, value: Buffer | null, headers: Record<string, string>): void {
  const body = value ?? Buffer.alloc(0);
  ctx.res.writeHead(200, {
    ...headers,
    "Content-Type": "text/plain",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Content-Length": body.length,
  });
  ctx.res.end(body);
}

function getKeys(ctx: RequestContext, opts: QueryOptions, prefix: string): void {
  const { store, res, query } = ctx;
  // Consul has long accepted its old misspelling too; the right spelling wins when both are given.
  const separator = query.get("separator") ?? query.get("seperator") ?? "";
  blockingQuery(ctx, opts, { kind: "prefix", prefix }, () => {
    const { index, entries } = store.kvList(prefix);
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const { key } of entries) {
      const at = separator === "" ? -1 : key.indexOf(separator, prefix.length);
      if (at === -1) {
        keys.push(key);
        continue;
      }
      // Everything below the first separator after the prefix folds into one "directory" key.
      const folded = key.slice(0, at + separator.length);
      if (seen.has(folded)) continue;
      seen.add(folded);
      keys.push(folded);
    }
    return {
      index,
      // Only the root answers an empty list; any other prefix with nothing below it is a 404.
      send: (h) =>
        keys.length === 0 && prefix !== "" ? sendEmpty(res, 404, h) : sendJson(res, goJson(keys), h),
    };
  });
}

async function put(ctx: RequestContext, key: string): Promise<void> {
  const { store, query, req, res } = ctx;
  if (key === "") throw new HttpError(400, "Missing key name");
  if (conflicting(ctx, ["cas", "acquire", "release"])) return;
  const flags = query.has("flags") ? parseUint64(query.get("flags") ?? "") : 0n;
  const cas = query.has("cas") ? parseUint64(query.get("cas") ?? "") : undefined;
  const max = ctx.settings.maxValueBytes;
  const declared = Number(req.headers["content-length"] ?? 0);
  // Refused before reading, as Consul does; Node discards the unread body once the answer is sent.
  if (declared > max) throw tooLarge(declared, max);
  const { body, size } = await readBody(req, max);
  if (size > max) throw tooLarge(size, max);
  // An empty body is stored as Consul stores it: a nil value, shown as JSON null.
  const value = body.length === 0 ? null : body;
  let ok = true;
  const acquire = query.get("acquire");
  const release = query.get("release");
  if (acquire !== null) ok = store.kvLock(key, value, flags, acquire);
  else if (release !== null) ok = store.kvUnlock(key, value, flags, release);
  else if (cas !== undefined) ok = store.kvCas(key, value, flags, cas);
  else store.kvSet(key, value, flags);
  sendJson(res, String(ok));
}

function del(ctx: RequestContext, key: string): void {
  const { store, query, res } = ctx;
  if (conflicting(ctx, ["recurse", "cas"])) return;
  if (query.has("recurse")) {
    store.kvDeleteTree(key);
    sendJson(res, "true");
    return;
  }
  if (key === "") throw new HttpError(400, "Missing key name");
  if (query.has("cas")) {
    sendJson(res, String(store.kvDeleteCas(key, parseUint64(query.get("cas") ?? ""))));
    return;
  }
  store.kvDelete(key);
  sendJson(res, "true");
}

function conflicting(ctx: RequestContext, flags: string[]): boolean {
  if (flags.filter((f) => ctx.query.has(f)).length < 2) return false;
  sendText(ctx.res, 400, `Conflicting flags: ${encodeQuery(ctx.query)}\n`);
  return true;
}

function tooLarge(size: number, max: number): HttpError {
  return new HttpError(
    413,
    `Request body(${size} bytes) too large, max size: ${max} bytes. See ${MAX_VALUE_DOC}.`,
  );
}

// Entries are immutable, so one encoding serves every watcher a change wakes.
const encoded = new WeakMap<KvEntry, string>();

// Field order and omissions as Go encodes structs.DirEntry; Flags is written from a bigint so that a
// uint64 survives exactly.
export function entryJson(e: KvEntry): string {
  let json = encoded.get(e);
  if (json === undefined) {
    const value = e.value === null ? "null" : `"${e.value.toString("base64")}"`;
    const session = e.session === "" ? "" : `,"Session":${goJson(e.session)}`;
    json = `{"LockIndex":${e.lockIndex},"Key":${goJson(e.key)},"Flags":${e.flags},"Value":${value}${session},"CreateIndex":${e.createIndex},"ModifyIndex":${e.modifyIndex}}`;
    encoded.set(e, json);
  }
  return json;
}
