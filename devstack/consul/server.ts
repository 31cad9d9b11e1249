import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { requestBounds } from "../../common/httpTimeouts.ts";
import type { Logger } from "../../common/logger.ts";
import { aclDenial, requestToken } from "./acl.ts";
import { agentRoutes } from "./agent.ts";
import {
  HttpError,
  type RequestContext,
  type Route,
  type ServerSettings,
  sendEmpty,
  sendText,
} from "./http.ts";
import { kvRoutes } from "./kv.ts";
import { sessionRoutes } from "./session.ts";
import { readSnapshot, SnapshotWriter } from "./snapshot.ts";
import { statusRoutes } from "./status.ts";
import { type Clock, Store, StoreError } from "./store.ts";
import { txnRoutes } from "./txn.ts";

// A Consul-HTTP-API-compatible dev server: the KV store, blocking queries, sessions and locks that the
// gateway and comparator use, on plain node:http so that status codes, headers and empty bodies are exactly
// what Consul sends. One process is one single-server cluster that is always its own leader.

export interface ConsulDevServerOptions {
  /** Default 8500; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Snapshot file to restore at start and keep up to date; without it the state lives in memory only. */
  dataFile?: string;
  /** Management token; when set every call but /v1/status/* must present it. Empty turns ACLs off. */
  aclToken?: string;
  /** Drives session TTLs and lock-delays (tests inject one they can advance). */
  clock?: Clock;
  /** Default: this machine's host name, as a Consul agent does. */
  nodeName?: string;
  /** Default dc1. */
  datacenter?: string;
  /** Time a client has to send a whole request, headers and body (then 408); default 10 s. */
  requestTimeoutMs?: number;
  /** How long after a change the snapshot is written; default 100 ms. */
  snapshotDelayMs?: number;
  logger?: Logger;
}

export interface ConsulDevServer {
  url: string;
  port: number;
  /** Stops listening, drops open connections (blocking queries included) and writes the last snapshot. */
  close(): Promise<void>;
}

const routes: Route[] = [...kvRoutes, ...txnRoutes, ...sessionRoutes, ...statusRoutes, ...agentRoutes];
const MAX_VALUE_BYTES = 512 * 1024;
const RAFT_PORT = 8300;

export async function startConsulDevServer(options: ConsulDevServerOptions = {}): Promise<ConsulDevServer> {
  const host = options.host ?? "127.0.0.1";
  const nodeName = options.nodeName ?? hostname();
  const aclToken = options.aclToken ?? "";
  const log = options.logger;
  const settings: ServerSettings = {
    datacenter: options.datacenter ?? "dc1",
    nodeName,
    nodeId: nodeIdFor(nodeName),
    serverAddress: `${host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host}:${RAFT_PORT}`,
    maxValueBytes: MAX_VALUE_BYTES,
    aclEnabled: aclToken !== "",
  };

  const initial = options.dataFile ? await readSnapshot(options.dataFile) : undefined;
  const store = new Store({ nodeName, clock: options.clock, initial });
  const writer = options.dataFile
    ? new SnapshotWriter(
        options.dataFile,
        () => store.dump(),
        options.snapshotDelayMs ?? 100,
        (err) => log?.error({ err, file: options.dataFile }, "snapshot write failed"),
      )
    : undefined;
  if (writer) store.onCommit = () => writer.schedule();
  if (initial)
    log?.info(
      { file: options.dataFile, keys: initial.entries.length, index: initial.index },
      "state restored",
    );

  // Request logging costs a listener per request, which adds up when a change wakes hundreds of watchers.
  const debug = log?.isLevelEnabled("debug") ? log : undefined;
  const server = createServer(requestBounds(options.requestTimeoutMs ?? 10_000), (req, res) => {
    if (debug) {
      const started = process.hrtime.bigint();
      res.on("finish", () =>
        debug.debug(
          { method: req.method, url: redactToken(req.url ?? ""), status: res.statusCode },
          `${req.method} ${res.statusCode} ${Number(process.hrtime.bigint() - started) / 1e6}ms`,
        ),
      );
    }
    dispatch(req, res, store, settings, aclToken).catch((err: unknown) => {
      log?.error({ err, url: redactToken(req.url ?? "") }, "request failed");
      if (!res.headersSent) sendText(res, 500, (err as Error).message);
      else res.destroy();
    });
  });
  // Go's server keeps idle connections open indefinitely; closing them early races clients that reuse them.
  server.keepAliveTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8500, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close: () => {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        store.close();
        await writer?.flush();
      })();
      return closing;
    },
  };
}

async function dispatch(
  req: IncomingMessage,
  res: ServerResponse,
  store: Store,
  settings: ServerSettings,
  aclToken: string,
): Promise<void> {
  const raw = req.url ?? "/";
  const q = raw.indexOf("?");
  let path: string;
  try {
    path = decodeURIComponent(q === -1 ? raw : raw.slice(0, q));
  } catch {
    sendText(res, 400, "400 Bad Request: invalid URL escape");
    return;
  }
  const query = new URLSearchParams(q === -1 ? "" : raw.slice(q + 1));
  const route = routes.find((r) =>
    r.pattern.endsWith("/") ? path.startsWith(r.pattern) : path === r.pattern,
  );
  if (!route) {
    sendEmpty(res, 404);
    return;
  }
  const allow = ["OPTIONS", ...route.methods].join(",");
  if (req.method === "OPTIONS") {
    sendEmpty(res, 200, { Allow: allow });
    return;
  }
  if (!route.methods.includes(req.method ?? "")) {
    sendText(res, 405, `method ${req.method} not allowed`, { Allow: allow });
    return;
  }
  const denial = route.public ? undefined : aclDenial(aclToken, requestToken(req, query));
  if (denial) {
    sendText(res, 403, denial);
    return;
  }
  const dc = query.get("dc");
  if (dc && dc !== settings.datacenter) {
    sendText(res, 500, "No path to datacenter");
    return;
  }
  const ctx: RequestContext = { req, res, path, query, store, settings };
  try {
    await route.handle(ctx);
  } catch (err) {
    if (err instanceof HttpError) sendText(res, err.status, err.message);
    else if (err instanceof StoreError) sendText(res, 500, err.message);
    else throw err;
  }
}

// A stable node ID per node name, as a real agent keeps one in its data directory.
function nodeIdFor(nodeName: string): string {
  const h = createHash("sha256").update(`consul-dev:${nodeName}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/g, "$1<hidden>");
}
