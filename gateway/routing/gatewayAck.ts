import type Consul from "consul";
import type { Logger } from "../../common/logger.ts";
import { CONSUL_KEYS, type GatewayAck, type RoutingDocument } from "../../common/routing.ts";
import type { GatewayMetrics } from "../metrics.ts";

// Tells the comparator which routing version this gateway applied: one key per gateway, held by a session
// with a TTL and behavior "delete", so the key of a gateway that died disappears on its own. Writes go one
// at a time and always carry the newest version, so an old acknowledgement never lands after a newer one.

const SESSION_TTL = "15s";
const RENEW_EVERY_MS = 5_000;
const RETRY_AFTER_MS = 500;

export class GatewayAcknowledger {
  private sessionId: string | null = null;
  private wanted: GatewayAck | null = null;
  private written: GatewayAck | null = null;
  private writing: Promise<void> | null = null;
  private rerun = false;
  private readonly timer: NodeJS.Timeout;
  private retry: NodeJS.Timeout | null = null;
  private heldWarned = false;
  private stopped = false;

  constructor(
    private readonly consul: Consul,
    readonly gatewayId: string,
    private readonly log: Logger,
    private readonly metrics: GatewayMetrics,
  ) {
    this.timer = setInterval(() => void this.renew(), RENEW_EVERY_MS);
    this.timer.unref();
  }

  get key(): string {
    return CONSUL_KEYS.gatewayAcks + this.gatewayId;
  }

  /** When Consul last answered a write or renewal of ours (epoch ms; 0 = never). */
  lastSuccessAt = 0;

  /** The version acknowledged in Consul so far (null until the first write succeeds). */
  get ackedVersion(): number | null {
    return this.written?.version ?? null;
  }

  ack(doc: RoutingDocument, appliedAt: string): Promise<void> {
    this.wanted = { gatewayId: this.gatewayId, version: doc.version, appliedAt, active: doc.active };
    return this.flush();
  }

  /** Ends the session: Consul deletes the acknowledgement with it. */
  async release(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    await this.writing;
    if (this.sessionId === null) return;
    try {
      await this.consul.session.destroy(this.sessionId);
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        "could not release the Consul session; it expires on its own",
      );
    }
    this.sessionId = null;
  }

  private flush(): Promise<void> {
    if (this.writing) {
      this.rerun = true;
      return this.writing;
    }
    this.writing = (async () => {
      do {
        this.rerun = false;
        await this.writeWanted();
      } while (this.rerun && !this.stopped);
    })().finally(() => {
      this.writing = null;
    });
    return this.writing;
  }

  private async writeWanted(): Promise<void> {
    const ack = this.wanted;
    if (!ack || this.stopped) return;
    try {
      this.sessionId ??= (
        await this.consul.session.create({
          name: `oneservice-gateway-${this.gatewayId}`,
          ttl: SESSION_TTL,
          behavior: "delete",
          lockdelay: "0s",
        })
      ).ID;
      const held = await this.consul.kv.set({
        key: this.key,
        value: JSON.stringify(ack),
        acquire: this.sessionId,
      });
      if (!held) {
        // Another session holds the key: most likely this gateway's previous life, until its session expires.
        if (!this.heldWarned)
          this.log.warn({ key: this.key }, "acknowledgement key held by another session; retrying");
        this.heldWarned = true;
        this.retrySoon();
        return;
      }
      this.written = ack;
      this.heldWarned = false;
      this.lastSuccessAt = Date.now();
    } catch (err) {
      this.metrics.consulErrors.inc({ operation: "ack" });
      this.log.warn({ err: (err as Error).message, version: ack.version }, "routing acknowledgement failed");
      this.retrySoon();
    }
  }

  // Sooner than the next renewal: the comparator counts switched gateways by their acknowledgements.
  private retrySoon(): void {
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.flush();
    }, RETRY_AFTER_MS);
    this.retry.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    if (this.sessionId !== null) {
      try {
        await this.consul.session.renew(this.sessionId);
        this.lastSuccessAt = Date.now();
      } catch (err) {
        this.metrics.consulErrors.inc({ operation: "session_renew" });
        // 404: the session expired (Consul unreachable for too long): its key is gone, start again.
        if ((err as { statusCode?: number }).statusCode === 404) {
          this.sessionId = null;
          this.written = null;
        }
        this.log.warn({ err: (err as Error).message }, "Consul session renewal failed");
      }
    }
    if (this.wanted && this.written !== this.wanted) await this.flush();
  }
}
