// The routing contract between the comparator (writer), operators (through the comparator) and the gateways
// (readers), carried by Consul KV. Writers check-and-set on ModifyIndex; readers watch with blocking queries.

export const CONSUL_KEYS = {
  /** The routing document (RoutingDocument, JSON). */
  routing: "oneservice/routing",
  /** Per-link health as the comparator judges it (HealthDocument, JSON), so a gateway knows which standby to try. */
  health: "oneservice/health",
  /** One key per gateway, held by the gateway's session: the routing version it applied (GatewayAck, JSON). */
  gatewayAcks: "oneservice/gateways/",
  /** Lock key of the comparator replicas: only the session holding it writes routing. */
  comparatorLeader: "oneservice/comparator/leader",
  /** Audit trail of decisions, one key per decision (comparator). */
  audit: "oneservice/audit/",
} as const;

export type RoutingMode = "auto" | "manual";

export interface RoutingDocument {
  /** Increases by one with every change; gateways apply a version once and acknowledge it. */
  version: number;
  active: string;
  /** Links to read from, in order, when the active one fails a request. */
  standby: string[];
  /** auto: the comparator may move `active`; manual: an operator pinned it and only an operator moves it. */
  mode: RoutingMode;
  reason: string;
  changedAt: string;
  changedBy: string;
}

export type LinkState = "healthy" | "lagging" | "diverged" | "down" | "unknown";

export interface HealthDocument {
  updatedAt: string;
  links: Record<string, { state: LinkState; since: string; detail: string }>;
}

export interface GatewayAck {
  gatewayId: string;
  version: number;
  appliedAt: string;
  active: string;
}

// Every document read from Consul is checked field by field before it is used: Consul holds whatever anyone
// with write access put there, and a reader that trusts a field it did not check fails later, somewhere else.
// Each check returns the problem (naming the field), or null when the document is usable.

const LINK_STATES_ALL: readonly LinkState[] = ["healthy", "lagging", "diverged", "down", "unknown"];
/** Bounds of the free-text fields, so a document cannot carry megabytes into every log line and page. */
export const ROUTING_TEXT_MAX = 1_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isInstant(v: unknown): v is string {
  return typeof v === "string" && v.length <= 64 && !Number.isNaN(Date.parse(v));
}

function textProblem(v: unknown, field: string, min: number): string | null {
  return typeof v === "string" && v.length >= min && v.length <= ROUTING_TEXT_MAX
    ? null
    : `${field} must be a string of ${min} to ${ROUTING_TEXT_MAX} characters`;
}

/** Validates a routing document read from Consul (or the gateway's local copy). */
export function routingProblem(doc: unknown, knownLinks: readonly string[]): string | null {
  if (!isObject(doc)) return "not a JSON object";
  const d = doc as Partial<Record<keyof RoutingDocument, unknown>>;
  if (!Number.isSafeInteger(d.version) || (d.version as number) < 1)
    return "version must be a positive integer";
  if (typeof d.active !== "string" || !knownLinks.includes(d.active))
    return `active must be one of ${knownLinks.join(", ")}`;
  if (!Array.isArray(d.standby) || d.standby.some((s) => typeof s !== "string" || !knownLinks.includes(s))) {
    return "standby must list known links";
  }
  if (d.standby.includes(d.active) || new Set(d.standby).size !== d.standby.length)
    return "standby must list each link once, without the active one";
  if (d.mode !== "auto" && d.mode !== "manual") return "mode must be auto or manual";
  return (
    textProblem(d.reason, "reason", 0) ??
    (isInstant(d.changedAt) ? null : "changedAt must be an ISO-8601 instant") ??
    textProblem(d.changedBy, "changedBy", 1)
  );
}

/** Validates the per-link health document: a usable entry for every link it names, and only known links. */
export function healthProblem(doc: unknown, knownLinks: readonly string[]): string | null {
  if (!isObject(doc)) return "not a JSON object";
  if (!isInstant(doc.updatedAt)) return "updatedAt must be an ISO-8601 instant";
  if (!isObject(doc.links)) return "links must be an object";
  for (const [link, entry] of Object.entries(doc.links)) {
    if (!knownLinks.includes(link)) return `links.${link.slice(0, 64)} is not a known link`;
    if (!isObject(entry)) return `links.${link} must be an object`;
    if (!LINK_STATES_ALL.includes(entry.state as LinkState))
      return `links.${link}.state must be one of ${LINK_STATES_ALL.join(", ")}`;
    if (!isInstant(entry.since)) return `links.${link}.since must be an ISO-8601 instant`;
    const detail = textProblem(entry.detail, `links.${link}.detail`, 0);
    if (detail) return detail;
  }
  return null;
}

/** Validates a gateway's acknowledgement. */
export function ackProblem(doc: unknown, knownLinks: readonly string[]): string | null {
  if (!isObject(doc)) return "not a JSON object";
  if (typeof doc.gatewayId !== "string" || !/^[A-Za-z0-9_.:-]{1,128}$/.test(doc.gatewayId))
    return "gatewayId must be 1 to 128 characters of [A-Za-z0-9_.:-]";
  if (!Number.isSafeInteger(doc.version) || (doc.version as number) < 1)
    return "version must be a positive integer";
  if (!isInstant(doc.appliedAt)) return "appliedAt must be an ISO-8601 instant";
  if (typeof doc.active !== "string" || !knownLinks.includes(doc.active))
    return `active must be one of ${knownLinks.join(", ")}`;
  return null;
}

/** Parses a Consul value and validates it with `problemOf`: the document, or the problem. */
export function parseDocument<T>(
  raw: string | null | undefined,
  problemOf: (doc: unknown) => string | null,
): { doc: T; problem: null } | { doc: null; problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(raw ?? "");
  } catch {
    return { doc: null, problem: "not JSON" };
  }
  const problem = problemOf(value);
  return problem === null ? { doc: value as T, problem: null } : { doc: null, problem };
}

/** The document a fresh installation starts from: the first link active, the others standing by in order. */
export function initialRouting(links: readonly string[], by: string): RoutingDocument {
  const [active, ...standby] = links;
  if (!active) throw new Error("no links configured");
  return {
    version: 1,
    active,
    standby,
    mode: "auto",
    reason: "initial routing",
    changedAt: new Date().toISOString(),
    changedBy: by,
  };
}
