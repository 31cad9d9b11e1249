import { blockingQuery, parseQueryOptions } from "./blocking.ts";
import { parseGoDuration } from "./goDuration.ts";
import { goJson, HttpError, type RequestContext, type Route, readBody, sendJson } from "./http.ts";
import { type NewSession, SERF_HEALTH_CHECK, type ServiceCheck, type Session } from "./store.ts";

// /v1/session/*, after agent/session_endpoint.go (HTTP decoding and defaults), agent/consul/session_endpoint.go
// (validation) and structs.Session.UnmarshalJSON (LockDelay). Validation failures that Consul raises in its
// RPC layer come back as 500 with the error text, as they do from a real agent.

const SESSION_TTL_MIN_NS = 10e9;
const SESSION_TTL_MAX_NS = 24 * 3600e9;
// A numeric LockDelay under this is taken as seconds: people write 15 meaning 15s, not 15ns.
const LOCK_DELAY_SECONDS_BELOW = 1000;
const DEFAULT_LOCK_DELAY_NS = 15e9;
// Bodies are small JSON documents; this only stops a runaway upload.
const MAX_BODY_BYTES = 1024 * 1024;

const DESTROY = "/v1/session/destroy/";
const RENEW = "/v1/session/renew/";
const INFO = "/v1/session/info/";
const NODE = "/v1/session/node/";

export const sessionRoutes: Route[] = [
  { pattern: "/v1/session/create", methods: ["PUT"], handle: create },
  { pattern: DESTROY, methods: ["PUT"], handle: destroy },
  { pattern: RENEW, methods: ["PUT"], handle: renew },
  { pattern: INFO, methods: ["GET"], handle: info },
  { pattern: NODE, methods: ["GET"], handle: (ctx) => list(ctx, pathRest(ctx, NODE, "Missing node name")) },
  { pattern: "/v1/session/list", methods: ["GET"], handle: (ctx) => list(ctx, undefined) },
];

/** The create body as decoded, before Behavior is known to be valid. */
type SessionRequest = Omit<NewSession, "behavior"> & { behavior: string };

async function create(ctx: RequestContext): Promise<void> {
  const spec: SessionRequest = {
    name: "",
    node: ctx.store.nodeName,
    lockDelayNs: DEFAULT_LOCK_DELAY_NS,
    behavior: "release",
    ttl: "",
    nodeChecks: [SERF_HEALTH_CHECK],
    serviceChecks: null,
    checks: [SERF_HEALTH_CHECK],
  };
  const { body } = await readBody(ctx.req, MAX_BODY_BYTES);
  const decoded = body.length > 0 ? decodeSession(body.toString("utf8"), spec) : spec;
  const session = fixupEmptyChecks(decoded);
  if (session.node === "") throw new HttpError(500, "Must provide Node");
  // An explicitly empty Behavior means the default, as it did before the field existed.
  const behavior = session.behavior === "" ? "release" : session.behavior;
  if (behavior !== "release" && behavior !== "delete")
    throw new HttpError(500, `Invalid Behavior setting '${behavior}'`);
  if (session.ttl !== "") {
    let ttl: number;
    try {
      ttl = parseGoDuration(session.ttl);
    } catch (err) {
      throw new HttpError(500, `Session TTL '${session.ttl}' invalid: ${(err as Error).message}`);
    }
    if (ttl !== 0 && (ttl < SESSION_TTL_MIN_NS || ttl > SESSION_TTL_MAX_NS))
      throw new HttpError(500, `Invalid Session TTL '${ttl}', must be between [10s=24h0m0s]`);
  }
  sendJson(ctx.res, goJson({ ID: ctx.store.sessionCreate({ ...session, behavior }) }));
}

function destroy(ctx: RequestContext): void {
  ctx.store.sessionDestroy(pathRest(ctx, DESTROY, "Missing session"));
  sendJson(ctx.res, "true");
}

function renew(ctx: RequestContext): void {
  parseQueryOptions(ctx.query);
  const id = pathRest(ctx, RENEW, "Missing session");
  const session = ctx.store.sessionRenew(id);
  if (!session) throw new HttpError(404, `Session id '${id}' not found`);
  sendJson(ctx.res, sessionsJson([session]));
}

function info(ctx: RequestContext): void {
  const opts = parseQueryOptions(ctx.query);
  const id = pathRest(ctx, INFO, "Missing session");
  blockingQuery(ctx, opts, { kind: "sessions" }, () => {
    const { index, session } = ctx.store.sessionGet(id);
    return { index, send: (h) => sendJson(ctx.res, sessionsJson(session ? [session] : []), h) };
  });
}

function list(ctx: RequestContext, node: string | undefined): void {
  const opts = parseQueryOptions(ctx.query);
  blockingQuery(ctx, opts, { kind: "sessions" }, () => {
    const { index, sessions } = ctx.store.sessionList(node);
    return { index, send: (h) => sendJson(ctx.res, sessionsJson(sessions), h) };
  });
}

function pathRest(ctx: RequestContext, prefix: string, missing: string): string {
  const rest = ctx.path.slice(prefix.length);
  if (rest === "") throw new HttpError(400, missing);
  return rest;
}

// Field order as Go encodes structs.Session; the deprecated Checks only when non-empty.
function sessionsJson(sessions: Session[]): string {
  return goJson(
    sessions.map((s) => ({
      ID: s.id,
      Name: s.name,
      Node: s.node,
      LockDelay: s.lockDelayNs,
      Behavior: s.behavior,
      TTL: s.ttl,
      NodeChecks: s.nodeChecks,
      ServiceChecks: s.serviceChecks,
      ...(s.checks && s.checks.length > 0 ? { Checks: s.checks } : {}),
      CreateIndex: s.createIndex,
      ModifyIndex: s.modifyIndex,
    })),
  );
}

const STRING_FIELDS: Record<string, { prop: "name" | "node" | "behavior" | "ttl"; field: string }> = {
  name: { prop: "name", field: "Name" },
  node: { prop: "node", field: "Node" },
  behavior: { prop: "behavior", field: "Behavior" },
  ttl: { prop: "ttl", field: "TTL" },
};

// Go's encoding/json: keys match field names case-insensitively, unknown keys are ignored (Session has its
// own UnmarshalJSON), null leaves a string as it was and empties a list, a wrong type is an error.
function decodeSession(text: string, defaults: SessionRequest): SessionRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw decodeError((err as Error).message);
  }
  if (raw === null) return defaults;
  if (typeof raw !== "object" || Array.isArray(raw))
    throw decodeError(`json: cannot unmarshal ${jsonKind(raw)} into Go value of type structs.Session`);
  const out = { ...defaults };
  for (const [name, value] of Object.entries(raw)) {
    const lower = name.toLowerCase();
    const text = STRING_FIELDS[lower];
    if (text) {
      out[text.prop] = stringField(text.field, value, out[text.prop]);
      continue;
    }
    switch (lower) {
      case "lockdelay":
        out.lockDelayNs = lockDelay(value, out.lockDelayNs);
        break;
      case "nodechecks":
        out.nodeChecks = stringList("NodeChecks", value);
        break;
      case "checks":
        out.checks = stringList("Checks", value);
        break;
      case "servicechecks":
        out.serviceChecks = serviceChecks(value);
        break;
    }
  }
  return out;
}

function lockDelay(value: unknown, current: number): number {
  if (value === null) return current;
  let ns = 0;
  if (typeof value === "string") {
    try {
      ns = parseGoDuration(value);
    } catch (err) {
      throw decodeError((err as Error).message);
    }
  } else if (typeof value === "number") {
    ns = Math.trunc(value);
  }
  return ns < LOCK_DELAY_SECONDS_BELOW ? ns * 1e9 : ns;
}

function stringField(field: string, value: unknown, current: string): string {
  if (value === null) return current;
  if (typeof value !== "string") throw typeError(field, value, "string");
  return value;
}

function stringList(field: string, value: unknown): string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value)) throw typeError(field, value, "[]string");
  return value.map((v) => stringField(field, v, ""));
}

function serviceChecks(value: unknown): ServiceCheck[] | null {
  if (value === null) return null;
  if (!Array.isArray(value)) throw typeError("ServiceChecks", value, "[]structs.ServiceCheck");
  return value.map((item: unknown) => {
    const check: ServiceCheck = { ID: "", Namespace: "" };
    if (item === null) return check;
    if (typeof item !== "object" || Array.isArray(item))
      throw typeError("ServiceChecks", item, "structs.ServiceCheck");
    for (const [name, v] of Object.entries(item)) {
      const lower = name.toLowerCase();
      if (lower === "id") check.ID = stringField("ServiceChecks.ID", v, check.ID);
      else if (lower === "namespace")
        check.Namespace = stringField("ServiceChecks.Namespace", v, check.Namespace);
    }
    return check;
  });
}

// agent/session_endpoint.go fixupEmptySessionChecks: an explicit empty Checks means "no checks at all",
// and the old Checks field defers to NodeChecks unless the caller set both.
function fixupEmptyChecks(s: SessionRequest): SessionRequest {
  const checks = s.checks ?? [];
  if (checks.length === 0) return { ...s, nodeChecks: [] };
  if (checks.length === 1 && checks[0] === SERF_HEALTH_CHECK) return { ...s, checks: null };
  if ((s.nodeChecks ?? []).length === 0) return { ...s, checks: null };
  return s;
}

function decodeError(message: string): HttpError {
  return new HttpError(400, `Request decode failed: ${message}`);
}

function typeError(field: string, value: unknown, goType: string): HttpError {
  return decodeError(
    `json: cannot unmarshal ${jsonKind(value)} into Go struct field Session.${field} of type ${goType}`,
  );
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  return typeof value === "boolean" ? "bool" : typeof value;
}
