import type Consul from "consul";
import {
  ackProblem,
  CONSUL_KEYS,
  type GatewayAck,
  type HealthDocument,
  parseDocument,
  type RoutingDocument,
  routingProblem,
} from "../common/routing.ts";
import { encodeValue, type KvTxnOp, kvTxn } from "./consulTxn.ts";

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
  /** The version field of an unusable document when it holds a usable number, else 0: a replacement goes above it. */
  versionSeen: number;
}

export class RoutingStore {
  constructor(
    private readonly consul: Consul,
    private readonly links: readonly string[],
  ) {}

  async read(): Promise<RoutingSnapshot> {
    const item = await this.consul.kv.get(CONSUL_KEYS.routing);
    if (!item) return { doc: null, modifyIndex: 0, problem: null, versionSeen: 0 };
    const parsed = parseDocument<RoutingDocument>(item.Value, (d) => routingProblem(d, this.links));
    return { ...parsed, modifyIndex: item.ModifyIndex, versionSeen: versionIn(item.Value) };
  }

  /**
   * Writes `doc` only if the key is still at `modifyIndex` (0: only if absent), in one transaction with the
   * audit record that explains it, so neither is ever written without the other. False when the key moved.
   */
  async write(doc: RoutingDocument, modifyIndex: number, audit: KvTxnOp): Promise<boolean> {
    const outcome = await kvTxn(this.consul, [
      { Verb: "cas", Key: CONSUL_KEYS.routing, Value: encodeValue(JSON.stringify(doc)), Index: modifyIndex },
      audit,
    ]);
    if (outcome.ok) return true;
    if (outcome.errors.some((e) => e.OpIndex === 0)) return false;
    throw new Error(`routing transaction refused: ${outcome.errors.map((e) => e.What).join("; ")}`);
  }

  async writeHealth(doc: HealthDocument): Promise<void> {
    await this.consul.kv.set(CONSUL_KEYS.health, JSON.stringify(doc));
  }

  /** Every gateway's acknowledgement; a value that is not a GatewayAck is skipped. */
  async readAcks(): Promise<GatewayAck[]> {
    const items = await this.consul.kv.get({ key: CONSUL_KEYS.gatewayAcks, recurse: true });
    const list = Array.isArray(items) ? items : items ? [items] : [];
    const acks: GatewayAck[] = [];
    // A half-written or foreign key under the prefix says nothing about routing.
    for (const item of list) {
      const { doc } = parseDocument<GatewayAck>(item.Value, (d) => ackProblem(d, this.links));
      if (doc) acks.push(doc);
    }
    return acks;
  }
}

function versionIn(raw: string | null | undefined): number {
  try {
    const version: unknown = (JSON.parse(raw ?? "") as { version?: unknown })?.version;
    return Number.isSafeInteger(version) && (version as number) > 0 ? (version as number) : 0;
  } catch {
    return 0;
  }
}
