import type Consul from "consul";
import { parseDuration } from "../common/config.ts";
import type { Logger } from "../common/logger.ts";
import { SerialQueue } from "../common/serialQueue.ts";

// Leader election among comparator replicas: a Consul session with a short TTL holds the lock key, and only
// its holder writes routing. The session is renewed at a third of its TTL; Consul invalidates it after up to
// twice the TTL without renewal, and the lock-delay then keeps the key free for a moment, so a replica that
// died is replaced after about 2 x TTL + lock-delay. On shutdown the key is released before the session is
// destroyed: a release starts no lock-delay, so a follower takes over within one attempt.

export interface LeaderLockOptions {
  key: string;
  /** This replica's name, stored in the key with `url` so followers can say who leads. */
  id: string;
  url: () => string;
  ttl: string;
  lockDelay: string;
  log: Logger;
  onChange: (isLeader: boolean) => void;
}

export interface LeaderInfo {
  id: string;
  url: string;
  since: string;
}

const FOLLOWER_ATTEMPT_MS = 1_000;

export class LeaderLock {
  private session: string | null = null;
  private lastRenewed = 0;
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly steps = new SerialQueue();
  private readonly ttlMs: number;

  constructor(
    private readonly consul: Consul,
    private readonly opts: LeaderLockOptions,
  ) {
    this.ttlMs = parseDuration(opts.ttl);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Tries at once, then keeps the session alive and keeps trying. */
  async start(): Promise<void> {
    await this.step();
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(
        () => {
          this.step().finally(loop);
        },
        this.leader ? this.ttlMs / 3 : FOLLOWER_ATTEMPT_MS,
      );
    };
    loop();
  }

  /** One round: make sure a session exists and is renewed, then hold or try to take the lock. */
  step(): Promise<void> {
    return this.steps.run(() => this.round());
  }

  private async round(): Promise<void> {
    try {
      if (this.session === null) {
        const created = await this.consul.session.create({
          name: `oneservice-comparator-${this.opts.id}`,
          ttl: this.opts.ttl,
          lockdelay: this.opts.lockDelay,
          behavior: "release",
        });
        this.session = created.ID;
        this.lastRenewed = Date.now();
      } else if (Date.now() - this.lastRenewed >= this.ttlMs / 3) {
        await this.consul.session.renew(this.session);
        this.lastRenewed = Date.now();
      }
      const value: LeaderInfo = { id: this.opts.id, url: this.opts.url(), since: new Date().toISOString() };
      // The client hands back `undefined`, not false, when Consul refuses the lock.
      const held = this.leader
        ? await this.confirm()
        : (await this.consul.kv.set({
            key: this.opts.key,
            value: JSON.stringify(value),
            acquire: this.session,
          })) === true;
      this.setLeader(held);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        // The session expired (we were stopped or cut off for longer than its TTL): start over.
        this.session = null;
        this.setLeader(false);
      } else if (Date.now() - this.lastRenewed > this.ttlMs) {
        // Consul keeps a session at least its TTL after the last renewal; beyond that it may be gone.
        this.setLeader(false);
      }
      this.opts.log.warn({ err: (err as Error).message }, "leader lock round failed");
    }
  }

  /** Whether the lock key is still held by our session, read from Consul now (before every routing write). */
  async confirm(): Promise<boolean> {
    if (this.session === null) return false;
    const item = (await this.consul.kv.get(this.opts.key)) as { Session?: string } | null;
    const held = item?.Session === this.session;
    if (!held) this.setLeader(false);
    return held;
  }

  async holder(): Promise<LeaderInfo | null> {
    const item = (await this.consul.kv.get(this.opts.key)) as {
      Session?: string;
      Value: string | null;
    } | null;
    if (!item?.Session) return null;
    try {
      return JSON.parse(item.Value ?? "") as LeaderInfo;
    } catch {
      return null;
    }
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.opts.log.info(
      { leader, session: this.session },
      leader ? "became the leader" : "no longer the leader",
    );
    this.opts.onChange(leader);
  }

  /** Stops trying, releases the lock if held and destroys the session. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.steps.idle();
    const session = this.session;
    this.session = null;
    if (session === null) return;
    try {
      if (this.leader) await this.consul.kv.set({ key: this.opts.key, value: "", release: session });
      await this.consul.session.destroy(session);
    } catch (err) {
      this.opts.log.warn(
        { err: (err as Error).message },
        "releasing the leader lock failed; it expires with its TTL",
      );
    }
    this.setLeader(false);
  }
}
