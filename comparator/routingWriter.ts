import type Consul from "consul";
import {
  CONSUL_KEYS,
  type GatewayAck,
  type HealthDocument,
  type RoutingDocument,
  routingProblem,
} from "../common/routing.ts";

// The comparator's side of the routing contract (common/routing.ts): it is the only writer of the routing and
// health documents. The routing document changes only by check-and-set on the ModifyIndex it was read at, so
// a replica that lost the lock, or an operator's change racing an automatic one, can never overwrite a
// version it has not seen.

export interface RoutingSnapshot {
  /** The document, or null when the key is absent or unusable (see `problem`). */
  doc: RoutingDocument | null;
  /** ModifyIndex the document was read at; 0 when the key is absent (a CAS with 0 creates it). */
  modifyIndex: number;
  /** Why a present document cannot be used, or null. */
  problem: string | null;
}

export class RoutingStore {
  constructor(
    private readonly consul: Consul,
    private readonly links: readonly string[],
  ) {}

  async read(): Promise<RoutingSnapshot> {
    const item = await this.consul.kv.get(CONSUL_KEYS.routing);
    if (!item) return { doc: null, modifyIndex: 0, problem: null };
    let parsed: unknown;
    try {
      parsed = JSON.parse(item.Value ?? "");
    } catch {
      return { doc: null, modifyIndex: item.ModifyIndex, problem: "not JSON" };
    }
    const problem = routingProblem(parsed, this.links);
    return problem
      ? { doc: null, modifyIndex: item.ModifyIndex, problem }
      : { doc: parsed as RoutingDocument, modifyIndex: item.ModifyIndex, problem: null };
  }

  /** Writes `doc` only if the key is still at `modifyIndex` (0: only if absent). False when it moved. */
  async write(doc: RoutingDocument, modifyIndex: number): Promise<boolean> {
    // The client hands back `undefined`, not false, when Consul answers false.
    const written = await this.consul.kv.set({
      key: CONSUL_KEYS.routing,
      value: JSON.stringify(doc),
      cas: modifyIndex,
    });
    return written === true;
  }

  async writeHealth(doc: HealthDocument): Promise<void> {
    await this.consul.kv.set(CONSUL_KEYS.health, JSON.stringify(doc));
  }

  /** Every gateway's acknowledgement; a value that is not a GatewayAck is skipped. */
  async readAcks(): Promise<GatewayAck[]> {
    const items = await this.consul.kv.get({ key: CONSUL_KEYS.gatewayAcks, recurse: true });
    const list = Array.isArray(items) ? items : items ? [items] : [];
    const acks: GatewayAck[] = [];
    for (const item of list) {
      try {
        const ack = JSON.parse(item.Value ?? "") as Partial<GatewayAck>;
        if (typeof ack.gatewayId === "string" && Number.isSafeInteger(ack.version))
          acks.push(ack as GatewayAck);
      } catch {
        // A half-written or foreign key under the prefix says nothing about routing.
      }
    }
    return acks;
  }
}
