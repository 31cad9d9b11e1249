import { randomUUID } from "node:crypto";
import { NS_PER_MS, parseGoDuration } from "./goDuration.ts";

// The one place that owns the state: KV entries, tombstones, sessions, lock delays, the raft-like index and
// the watchers of blocking queries. It follows Consul's state store (agent/consul/state/kvs.go, session.go)
// rule for rule; the HTTP files only translate requests into these calls. Every method runs to completion
// synchronously, which is what makes each write atomic, as one raft log entry is in Consul.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface KvEntry {
  readonly key: string;
  /** null for an empty value, as Consul stores a nil byte slice (JSON `null`). */
  readonly value: Buffer | null;
  /** uint64 in Consul, so beyond what a JS number holds exactly. */
  readonly flags: bigint;
  readonly session: string;
  readonly lockIndex: number;
  readonly createIndex: number;
  readonly modifyIndex: number;
}

export type SessionBehavior = "release" | "delete";

export interface ServiceCheck {
  ID: string;
  Namespace: string;
}

export interface Session {
  readonly id: string;
  readonly name: string;
  readonly node: string;
  readonly lockDelayNs: number;
  readonly behavior: SessionBehavior;
  readonly ttl: string;
  readonly nodeChecks: string[] | null;
  readonly serviceChecks: ServiceCheck[] | null;
  readonly checks: string[] | null;
  readonly createIndex: number;
  readonly modifyIndex: number;
}

export type NewSession = Omit<Session, "id" | "createIndex" | "modifyIndex">;

export interface Tombstone {
  key: string;
  index: number;
}

/** Everything durable; lock delays and TTL deadlines are not (Consul rebuilds timers on a new leader too). */
export interface StoreState {
  index: number;
  kvIndex: number;
  sessionsIndex: number;
  entries: KvEntry[];
  tombstones: Tombstone[];
  sessions: Session[];
}

export type WatchTarget =
  | { kind: "key"; key: string }
  | { kind: "prefix"; prefix: string }
  | { kind: "sessions" };

export type KvVerb =
  | "set"
  | "cas"
  | "lock"
  | "unlock"
  | "get"
  | "get-or-empty"
  | "get-tree"
  | "check-index"
  | "check-session"
  | "check-not-exists"
  | "delete"
  | "delete-tree"
  | "delete-cas";

/** One KV operation of a transaction, as structs.TxnKVOp carries it (Index is the DirEnt's ModifyIndex). */
export interface KvOp {
  verb: KvVerb;
  key: string;
  value: Buffer | null;
  flags: bigint;
  index: bigint;
  session: string;
}

export interface TxnOpError {
  opIndex: number;
  what: string;
}

export type TxnOutcome = { ok: true; results: KvEntry[] } | { ok: false; errors: TxnOpError[] };

/** A failure Consul reports from its FSM or RPC layer: HTTP 500 with this text. */
export class StoreError extends Error {}

export const SERF_HEALTH_CHECK = "serfHealth";
const MAX_LOCK_DELAY_MS = 60_000;
const SESSION_TTL_MULTIPLIER = 2;

export interface StoreOptions {
  nodeName: string;
  clock?: Clock;
  initial?: StoreState;
}

// One write: the index is taken on the first actual change, so a write that changes nothing leaves every
// index where it was.
class Txn {
  index = 0;
  readonly keys = new Set<string>();
  sessions = false;
}

export class Store {
  readonly nodeName: string;
  /** Called after every write that changed something (the snapshot writer hangs here). */
  onCommit: (() => void) | undefined;

  private readonly clock: Clock;
  private index: number;
  private kvIndex: number;
  private sessionsIndex: number;
  private readonly kv = new Map<string, KvEntry>();
  private sortedKeys: string[] | null = null;
  private readonly tombstones = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();
  private readonly sessionTimers = new Map<string, unknown>();
  private readonly lockDelays = new Map<string, number>();
  private readonly keyWatchers = new Map<string, Set<() => void>>();
  private readonly prefixWatchers = new Set<{ prefix: string; fn: () => void }>();
  private readonly sessionWatchers = new Set<() => void>();

  constructor(options: StoreOptions) {
    this.nodeName = options.nodeName;
    this.clock = options.clock ?? systemClock;
    const initial = options.initial;
    // Raft's first entry is its own configuration, so no user write ever gets index 1; that is what lets
    // "nothing here yet" be reported as index 1 without a later write looking unchanged.
    this.index = Math.max(initial?.index ?? 1, 1);
    this.kvIndex = initial?.kvIndex ?? 0;
    this.sessionsIndex = initial?.sessionsIndex ?? 0;
    for (const e of initial?.entries ?? []) this.kv.set(e.key, e);
    for (const t of initial?.tombstones ?? []) this.tombstones.set(t.key, t.index);
    for (const s of initial?.sessions ?? []) {
      this.sessions.set(s.id, s);
      this.armSessionTimer(s);
    }
  }

  /** The last index handed out, as raft's applied index. */
  get raftIndex(): number {
    return this.index;
  }

  dump(): StoreState {
    return {
      index: this.index,
      kvIndex: this.kvIndex,
      sessionsIndex: this.sessionsIndex,
      entries: this.keysInOrder().map((k) => this.kv.get(k) as KvEntry),
      tombstones: [...this.tombstones].map(([key, index]) => ({ key, index })),
      sessions: [...this.sessions.values()],
    };
  }

  close(): void {
    for (const handle of this.sessionTimers.values()) this.clock.clearTimeout(handle);
    this.sessionTimers.clear();
  }

  // ---- KV reads. Indexes follow KVS.Get / KVS.List: the entry's ModifyIndex, else the KV table index.

  kvGet(key: string): { index: number; entry: KvEntry | undefined } {
    const entry = this.kv.get(key);
    return { index: entry ? entry.modifyIndex : this.kvIndex, entry };
  }

  kvList(prefix: string): { index: number; entries: KvEntry[] } {
    const entries = this.keysInOrder()
      .filter((k) => k.startsWith(prefix))
      .map((k) => this.kv.get(k) as KvEntry);
    let index = 0;
    if (prefix === "") {
      index = this.kvIndex;
    } else {
      for (const e of entries) index = Math.max(index, e.modifyIndex);
      // Tombstones keep the index of a prefix from sliding back when its newest key is deleted.
      for (const [key, at] of this.tombstones) if (key.startsWith(prefix)) index = Math.max(index, at);
    }
    return { index: index !== 0 ? index : this.kvIndex, entries };
  }

  // ---- KV writes (FSM operations KVSet, KVCAS, KVLock, KVUnlock, KVDelete, KVDeleteCAS, KVDeleteTree).

  kvSet(key: string, value: Buffer | null, flags: bigint): void {
    this.run((t) => this.setIn(t, key, value, flags));
  }

  kvCas(key: string, value: Buffer | null, flags: bigint, cas: bigint): boolean {
    return this.run((t) => this.casIn(t, key, value, flags, cas));
  }

  kvLock(key: string, value: Buffer | null, flags: bigint, session: string): boolean {
    return this.run((t) => this.lockIn(t, key, value, flags, session));
  }

  kvUnlock(key: string, value: Buffer | null, flags: bigint, session: string): boolean {
    return this.run((t) => this.unlockIn(t, key, value, flags, session));
  }

  kvDelete(key: string): void {
    this.run((t) => this.deleteEntry(t, key));
  }

  kvDeleteCas(key: string, cas: bigint): boolean {
    return this.run((t) => this.deleteCasIn(t, key, cas));
  }

  kvDeleteTree(prefix: string): void {
    this.run((t) => this.deleteTreeIn(t, prefix));
  }

  /**
   * Consul's Txn.Apply for KV operations (agent/consul/state/txn.go): every operation runs in order against the
   * state the earlier ones left; when any fails, all are rolled back and every failure is reported with the
   * index of its operation. Results carry values for reads only, and nothing for deletes.
   */
  kvTxn(ops: readonly KvOp[]): TxnOutcome {
    const saved = {
      kv: new Map(this.kv),
      tombstones: new Map(this.tombstones),
      lockDelays: new Map(this.lockDelays),
      index: this.index,
      kvIndex: this.kvIndex,
    };
    const t = new Txn();
    const results: KvEntry[] = [];
    const errors: TxnOpError[] = [];
    ops.forEach((op, opIndex) => {
      try {
        results.push(...this.kvOpIn(t, op));
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
        errors.push({ opIndex, what: err.message });
      }
    });
    if (errors.length === 0) {
      this.commit(t);
      return { ok: true, results };
    }
    this.kv.clear();
    for (const [k, v] of saved.kv) this.kv.set(k, v);
    this.tombstones.clear();
    for (const [k, v] of saved.tombstones) this.tombstones.set(k, v);
    this.lockDelays.clear();
    for (const [k, v] of saved.lockDelays) this.lockDelays.set(k, v);
    this.index = saved.index;
    this.kvIndex = saved.kvIndex;
    this.sortedKeys = null;
    return { ok: false, errors };
  }

  // ---- Sessions.

  sessionGet(id: string): { index: number; session: Session | undefined } {
    return { index: this.sessionsIndex, session: this.sessions.get(id) };
  }

  sessionList(node?: string): { index: number; sessions: Session[] } {
    const wanted = node?.toLowerCase();
    const sessions = [...this.sessions.values()]
      .filter((s) => wanted === undefined || s.node.toLowerCase() === wanted)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { index: this.sessionsIndex, sessions };
  }

  sessionCreate(spec: NewSession): string {
    if (spec.node.toLowerCase() !== this.nodeName.toLowerCase())
      throw new StoreError("Missing node registration");
    // This agent registers no checks but the node's serfHealth, and no services at all.
    const missing =
      [...(spec.checks ?? []), ...(spec.nodeChecks ?? [])].find((id) => id !== SERF_HEALTH_CHECK) ??
      spec.serviceChecks?.[0]?.ID;
    if (missing !== undefined) throw new StoreError(`Missing check '${missing}' registration`);
    const t = new Txn();
    const idx = this.take(t);
    const session: Session = { ...spec, id: randomUUID(), createIndex: idx, modifyIndex: idx };
    this.sessions.set(session.id, session);
    this.sessionsIndex = idx;
    t.sessions = true;
    this.armSessionTimer(session);
    this.commit(t);
    return session.id;
  }

  /** Destroying is also what a TTL expiry does: release or delete the held keys and start their lock-delay. */
  sessionDestroy(id: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    const t = new Txn();
    const idx = this.take(t);
    this.sessions.delete(id);
    this.disarmSessionTimer(id);
    this.sessionsIndex = idx;
    t.sessions = true;
    const delayMs = Math.min(session.lockDelayNs / NS_PER_MS, MAX_LOCK_DELAY_MS);
    const now = this.clock.now();
    for (const entry of [...this.kv.values()]) {
      if (entry.session !== id) continue;
      if (session.behavior === "delete") this.deleteEntry(t, entry.key);
      else this.setEntry(t, entry.key, entry.value, entry.flags, "", entry.lockIndex);
      if (delayMs > 0) this.lockDelays.set(entry.key, now + delayMs);
    }
    this.commit(t);
  }

  /** Resets the TTL timer; renewing is not a raft write, so no index moves. */
  sessionRenew(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session) this.armSessionTimer(session);
    return session;
  }

  // ---- Watches for blocking queries. A watcher is called after a write touched what it watches.

  watch(target: WatchTarget, fn: () => void): () => void {
    if (target.kind === "sessions") {
      this.sessionWatchers.add(fn);
      return () => this.sessionWatchers.delete(fn);
    }
    if (target.kind === "prefix") {
      const w = { prefix: target.prefix, fn };
      this.prefixWatchers.add(w);
      return () => this.prefixWatchers.delete(w);
    }
    let set = this.keyWatchers.get(target.key);
    if (!set) {
      set = new Set();
      this.keyWatchers.set(target.key, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.keyWatchers.get(target.key) === set) this.keyWatchers.delete(target.key);
    };
  }

  // ---- Internals.

  private run<T>(fn: (t: Txn) => T): T {
    const t = new Txn();
    const out = fn(t);
    this.commit(t);
    return out;
  }

  private kvOpIn(t: Txn, op: KvOp): KvEntry[] {
    const { key } = op;
    if (key === "" && op.verb !== "delete-tree") throw new StoreError("Must provide key");
    const written = (ok: boolean, failure: string): KvEntry[] => {
      if (!ok) throw new StoreError(failure);
      return [withoutValue(this.kv.get(key) as KvEntry)];
    };
    switch (op.verb) {
      case "set":
        this.setIn(t, key, op.value, op.flags);
        return written(true, "");
      case "cas":
        return written(
          this.casIn(t, key, op.value, op.flags, op.index),
          `failed to set key ${goQuote(key)}, index is stale`,
        );
      case "lock":
        return written(
          this.lockIn(t, key, op.value, op.flags, op.session),
          `failed to lock key ${goQuote(key)}, lock is already held`,
        );
      case "unlock":
        return written(
          this.unlockIn(t, key, op.value, op.flags, op.session),
          `failed to unlock key ${goQuote(key)}, lock isn't held, or is held by another session`,
        );
      case "delete":
        this.deleteEntry(t, key);
        return [];
      case "delete-cas":
        if (!this.deleteCasIn(t, key, op.index))
          throw new StoreError(`failed to delete key ${goQuote(key)}, index is stale`);
        return [];
      case "delete-tree":
        this.deleteTreeIn(t, key);
        return [];
      case "get": {
        const entry = this.kv.get(key);
        if (!entry) throw new StoreError(`key ${goQuote(key)} doesn't exist`);
        return [entry];
      }
      case "get-or-empty":
        return [
          this.kv.get(key) ?? {
            key,
            value: null,
            flags: op.flags,
            session: op.session,
            lockIndex: 0,
            createIndex: 0,
            modifyIndex: 0,
          },
        ];
      case "get-tree":
        return this.keysInOrder()
          .filter((k) => k.startsWith(key))
          .map((k) => this.kv.get(k) as KvEntry);
      case "check-index": {
        const entry = this.kv.get(key);
        if (!entry) throw new StoreError(`key ${goQuote(key)} does not exist`);
        if (BigInt(entry.modifyIndex) !== op.index)
          throw new StoreError(`current modify index ${entry.modifyIndex} != ${op.index}`);
        return [withoutValue(entry)];
      }
      case "check-session": {
        const entry = this.kv.get(key);
        if (!entry) throw new StoreError(`key ${goQuote(key)} does not exist`);
        if (entry.session !== op.session)
          throw new StoreError(`current session ${goQuote(entry.session)} != ${goQuote(op.session)}`);
        return [withoutValue(entry)];
      }
      case "check-not-exists":
        if (this.kv.has(key)) throw new StoreError(`key ${goQuote(key)} exists`);
        return [];
    }
  }

  private setIn(t: Txn, key: string, value: Buffer | null, flags: bigint): void {
    // A plain set keeps the lock holder but not LockIndex: kvsSetTxn copies Session from the existing
    // entry and nothing else, so the request's zero LockIndex is written.
    this.setEntry(t, key, value, flags, this.kv.get(key)?.session ?? "", 0);
  }

  private casIn(t: Txn, key: string, value: Buffer | null, flags: bigint, cas: bigint): boolean {
    const existing = this.kv.get(key);
    if (cas === 0n ? existing !== undefined : existing === undefined || BigInt(existing.modifyIndex) !== cas)
      return false;
    this.setIn(t, key, value, flags);
    return true;
  }

  private lockIn(t: Txn, key: string, value: Buffer | null, flags: bigint, session: string): boolean {
    // Lock-delay is checked before anything else, as the leader does before it even appends to raft.
    const delayUntil = this.lockDelays.get(key);
    if (delayUntil !== undefined) {
      if (delayUntil > this.clock.now()) return false;
      this.lockDelays.delete(key);
    }
    if (session === "") throw new StoreError("missing session");
    if (!this.sessions.has(session)) throw new StoreError(`invalid session ${JSON.stringify(session)}`);
    const existing = this.kv.get(key);
    let lockIndex = 1;
    if (existing) {
      if (existing.session === session) lockIndex = existing.lockIndex;
      else if (existing.session !== "") return false;
      else lockIndex = existing.lockIndex + 1;
    }
    this.setEntry(t, key, value, flags, session, lockIndex);
    return true;
  }

  private unlockIn(t: Txn, key: string, value: Buffer | null, flags: bigint, session: string): boolean {
    if (session === "") throw new StoreError("missing session");
    const existing = this.kv.get(key);
    if (!existing || existing.session !== session) return false;
    this.setEntry(t, key, value, flags, "", existing.lockIndex);
    return true;
  }

  private deleteCasIn(t: Txn, key: string, cas: bigint): boolean {
    const existing = this.kv.get(key);
    // Deleting what is already gone counts as success (kvsDeleteCASTxn returns `entry == nil`).
    if (!existing) return true;
    if (BigInt(existing.modifyIndex) !== cas) return false;
    this.deleteEntry(t, key);
    return true;
  }

  private deleteTreeIn(t: Txn, prefix: string): void {
    const keys = this.keysInOrder().filter((k) => k.startsWith(prefix));
    if (keys.length === 0) return;
    const idx = this.take(t);
    for (const key of keys) {
      this.kv.delete(key);
      t.keys.add(key);
    }
    this.sortedKeys = null;
    // One tombstone for the whole tree; none when everything is deleted, the table index covers that.
    if (prefix !== "") this.tombstones.set(prefix, idx);
    this.kvIndex = idx;
  }

  private take(t: Txn): number {
    if (t.index === 0) t.index = ++this.index;
    return t.index;
  }

  private setEntry(
    t: Txn,
    key: string,
    value: Buffer | null,
    flags: bigint,
    session: string,
    lockIndex: number,
  ) {
    const existing = this.kv.get(key);
    // DirEntry.Equal: an identical write is skipped and keeps its ModifyIndex.
    if (
      existing &&
      existing.lockIndex === lockIndex &&
      existing.flags === flags &&
      existing.session === session &&
      sameBytes(existing.value, value)
    )
      return;
    const idx = this.take(t);
    this.kv.set(key, {
      key,
      value,
      flags,
      session,
      lockIndex,
      createIndex: existing?.createIndex ?? idx,
      modifyIndex: idx,
    });
    if (!existing) {
      this.sortedKeys = null;
      // The new entry's index is above the tombstone's, so the tombstone no longer decides any index.
      this.tombstones.delete(key);
    }
    this.kvIndex = idx;
    t.keys.add(key);
  }

  private deleteEntry(t: Txn, key: string): void {
    if (!this.kv.has(key)) return;
    const idx = this.take(t);
    this.kv.delete(key);
    this.sortedKeys = null;
    this.tombstones.set(key, idx);
    this.kvIndex = idx;
    t.keys.add(key);
  }

  private commit(t: Txn): void {
    if (t.index === 0) return;
    const due = new Set<() => void>();
    for (const key of t.keys) for (const fn of this.keyWatchers.get(key) ?? []) due.add(fn);
    for (const w of this.prefixWatchers) {
      for (const key of t.keys) {
        if (key.startsWith(w.prefix)) {
          due.add(w.fn);
          break;
        }
      }
    }
    if (t.sessions) for (const fn of this.sessionWatchers) due.add(fn);
    for (const fn of due) fn();
    this.onCommit?.();
  }

  private keysInOrder(): string[] {
    // Consul's radix tree orders keys by their UTF-8 bytes.
    this.sortedKeys ??= [...this.kv.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return this.sortedKeys;
  }

  private armSessionTimer(session: Session): void {
    this.disarmSessionTimer(session.id);
    if (session.ttl === "") return;
    const ttlMs = parseGoDuration(session.ttl) / NS_PER_MS;
    if (ttlMs <= 0) return;
    // Consul waits twice the TTL before invalidating: the contract is "not before the TTL".
    const handle = this.clock.setTimeout(() => {
      this.sessionTimers.delete(session.id);
      this.sessionDestroy(session.id);
    }, ttlMs * SESSION_TTL_MULTIPLIER);
    this.sessionTimers.set(session.id, handle);
  }

  private disarmSessionTimer(id: string): void {
    const handle = this.sessionTimers.get(id);
    if (handle === undefined) return;
    this.clock.clearTimeout(handle);
    this.sessionTimers.delete(id);
  }
}

function withoutValue(e: KvEntry): KvEntry {
  return { ...e, value: null };
}

// Go's %q for the keys in error texts (ASCII keys are what Consul's own errors show).
function goQuote(s: string): string {
  return JSON.stringify(s);
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  // bytes.Equal treats nil and empty alike.
  return (a ?? Buffer.alloc(0)).equals(b ?? Buffer.alloc(0));
}
