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

/** Validates a routing document read from Consul; returns the problem, or null when it is usable. */
export function routingProblem(doc: unknown, knownLinks: readonly string[]): string | null {
  if (typeof doc !== "object" || doc === null) return "not a JSON object";
  const d = doc as Partial<RoutingDocument>;
  if (!Number.isSafeInteger(d.version) || (d.version as number) < 1)
    return "version must be a positive integer";
  if (typeof d.active !== "string" || !knownLinks.includes(d.active))
    return `active must be one of ${knownLinks.join(", ")}`;
  if (!Array.isArray(d.standby) || d.standby.some((s) => typeof s !== "string" || !knownLinks.includes(s))) {
    return "standby must list known links";
  }
  if (d.mode !== "auto" && d.mode !== "manual") return "mode must be auto or manual";
  return null;
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
