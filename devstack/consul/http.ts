import type { IncomingMessage, ServerResponse } from "node:http";
import type { Store } from "./store.ts";

// What every endpoint gets, and the few response shapes Consul's HTTP layer produces. Consul writes errors
// as a status with a short plain-text body (clients such as the npm `consul` package show that text as the
// error message), JSON as compact Go-encoded JSON, and empty bodies for 404s of reads.

export interface ServerSettings {
  datacenter: string;
  nodeName: string;
  nodeId: string;
  /** Address shown as the raft leader and peer, like a server's RPC address. */
  serverAddress: string;
  maxValueBytes: number;
  aclEnabled: boolean;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** URL-decoded path, as Go's `req.URL.Path`. */
  path: string;
  query: URLSearchParams;
  store: Store;
  settings: ServerSettings;
}

export interface Route {
  /** A path ending in "/" matches every path below it, as in Go's ServeMux. */
  pattern: string;
  methods: readonly string[];
  /** Consul answers these without an ACL token (the status endpoints). */
  public?: boolean;
  handle: (ctx: RequestContext) => void | Promise<void>;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Consistency = "leader" | "stale" | "consistent";

/** The query meta headers Consul sets on every read (agent/http.go setMeta). */
export function queryMetaHeaders(index: number, consistency: Consistency): Record<string, string> {
  return {
    // Index 0 would make blocking clients spin: ?index=0 never blocks.
    "X-Consul-Index": String(Math.max(index, 1)),
    "X-Consul-Knownleader": "true",
    "X-Consul-Lastcontact": "0",
    "X-Consul-Effective-Consistency": consistency,
    "X-Consul-Query-Backend": "blocking-query",
  };
}

export function sendJson(
  res: ServerResponse,
  json: string,
  headers: Record<string, string> = {},
  status = 200,
) {
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(json),
  });
  res.end(json);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, {
    ...headers,
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}) {
  res.writeHead(status, { ...headers, "Content-Length": 0 });
  res.end();
}

// Go's encoding/json escapes these for HTML safety; byte-for-byte bodies keep diffing tools and caches quiet.
const GO_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c);
}

/** Reads the whole body; over `limit` bytes it still drains the socket but reports the size. */
export function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () => resolve({ body: Buffer.concat(chunks), size }));
    req.on("error", reject);
  });
}

/** Go's strconv.ParseUint(s, 10, 64), with its error text (Consul returns it as a 500). */
export function parseUint64(raw: string): bigint {
  if (!/^\d+$/.test(raw))
    throw new HttpError(500, `strconv.ParseUint: parsing ${JSON.stringify(raw)}: invalid syntax`);
  const n = BigInt(raw);
  if (n > 0xffff_ffff_ffff_ffffn)
    throw new HttpError(500, `strconv.ParseUint: parsing ${JSON.stringify(raw)}: value out of range`);
  return n;
}

/** Go's url.Values.Encode: keys sorted, values in order, query-escaped. */
export function encodeQuery(query: URLSearchParams): string {
  const keys = [...new Set(query.keys())].sort();
  const esc = (s: string) =>
    encodeURIComponent(s)
      .replace(/%20/g, "+")
      .replace(/[!'()*]/g, goQueryEscape);
  return keys.flatMap((k) => query.getAll(k).map((v) => `${esc(k)}=${esc(v)}`)).join("&");
}

function goQueryEscape(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
}
