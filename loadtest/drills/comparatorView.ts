import type { GatewayAck, LinkState, RoutingDocument } from "../../common/routing.ts";
import type { AuditRecord } from "../../comparator/audit.ts";

// What a drill reads from the comparator's HTTP API: link states, the routing with the gateways'
// acknowledgements, and the audit trail whose records time the detection and the switch.

export interface LinksView {
  /** Business day the comparator compares. */
  date: string;
  links: { id: string; state: LinkState; values: Record<string, number> }[];
}

export interface RoutingView {
  routing: RoutingDocument | null;
  gateways: { total: number; onNewest: number; acks: GatewayAck[] };
}

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return (await res.json()) as T;
}

export const linksView = (comparatorUrl: string) => get<LinksView>(`${comparatorUrl}/v1/links`);
export const routingView = (comparatorUrl: string) => get<RoutingView>(`${comparatorUrl}/v1/routing`);

/** Audit records at or after `since` (epoch ms), oldest first. */
export async function auditSince(comparatorUrl: string, since: number): Promise<AuditRecord[]> {
  const { records } = await get<{ records: AuditRecord[] }>(`${comparatorUrl}/v1/audit?limit=200`);
  return records.filter((r) => Date.parse(r.at) >= since).reverse();
}

/**
 * Waits until every link is healthy and every one of `gateways` gateways runs the newest routing, three
 * polls in a row: the state a drill starts from, and the state it leaves for the next one.
 */
export async function waitSteady(
  comparatorUrl: string,
  gateways: number,
  timeoutMs: number,
): Promise<RoutingView> {
  const deadline = Date.now() + timeoutMs;
  let inARow = 0;
  let previous: RoutingView | null = null;
  for (;;) {
    try {
      const [links, routing] = await Promise.all([linksView(comparatorUrl), routingView(comparatorUrl)]);
      const steady =
        links.links.every((l) => l.state === "healthy") &&
        routing.routing !== null &&
        routing.gateways.total >= gateways &&
        routing.gateways.onNewest === routing.gateways.total &&
        previous?.routing?.version === routing.routing.version;
      inARow = steady ? inARow + 1 : 0;
      previous = routing;
    } catch {
      inARow = 0;
    }
    if (inARow >= 3 && previous) return previous;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for every link healthy and every gateway on the newest routing`,
      );
    await new Promise((r) => setTimeout(r, 400));
  }
}
