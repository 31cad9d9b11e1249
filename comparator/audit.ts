import { appendFile, mkdir, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import type Consul from "consul";
import type { Logger } from "../common/logger.ts";
import { CONSUL_KEYS } from "../common/routing.ts";
import { SerialQueue } from "../common/serialQueue.ts";
import { encodeValue, type KvTxnOp, type KvTxnResult, kvTxn, TXN_MAX_OPS } from "./consulTxn.ts";

// The audit trail: every decision with its evidence, kept twice. In Consul (one key per record under
// CONSUL_KEYS.audit, named so that key order is time order) it is shared by the replicas and survives this
// process; the local JSON-lines file survives Consul being unreachable, and is what GET /v1/audit falls back
// to then. Both keep a bounded number of records: the leader prunes Consul, and the file, once it holds that
// many, becomes `<file>.1` (replacing the one before), so the disk holds at most twice as many.

export const DECISION_KINDS = [
  "initial_routing",
  "state_change",
  "suspect",
  "auto_failover",
  "no_target",
  "pinned_hold",
  "manual_failover",
  "forced_failover",
  "pin",
  "unpin",
  "routing_replaced",
  "refused",
  "repair",
  "forced_repair",
  "backfill",
  "forced_backfill",
  "repair_failed",
] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

export interface AuditRecord {
  /** Sortable: zero-padded epoch ms, the writing replica, a sequence number. */
  id: string;
  at: string;
  kind: DecisionKind;
  /** The comparator replica, or `operator:<name>`. */
  by: string;
  reason: string;
  link?: string;
  from?: string;
  to?: string;
  /** Routing version this decision wrote, when it wrote one. */
  routingVersion?: number;
  /** Values, gaps, lags and thresholds behind the decision, and its timing. */
  evidence: Record<string, unknown>;
}

export type NewAuditRecord = Omit<AuditRecord, "id" | "at">;

export interface AuditPage {
  source: "consul" | "file";
  records: AuditRecord[];
  /** Entries of this page that were not valid audit records: skipped, and counted. */
  skipped: number;
  /** Pass as `before` for the next (older) page; null when this page reaches the oldest record. */
  next: string | null;
}

const ID = /^\d{15}-[A-Za-z0-9_.-]{1,64}-\d{6}$/;
const TEXT_MAX = 10_000;

/** Validates an audit record read back from Consul or the local file; the problem, or null. */
export function auditProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const r = value as Record<string, unknown>;
  if (typeof r.id !== "string" || !ID.test(r.id)) return "id must be <epoch ms>-<replica>-<sequence>";
  if (typeof r.at !== "string" || Number.isNaN(Date.parse(r.at))) return "at must be an ISO-8601 instant";
  if (!DECISION_KINDS.includes(r.kind as DecisionKind)) return "kind is not a known decision";
  for (const field of ["by", "reason"] as const) {
    const v = r[field];
    if (typeof v !== "string" || v.length > TEXT_MAX) return `${field} must be a string`;
  }
  for (const field of ["link", "from", "to"] as const) {
    const v = r[field];
    if (v !== undefined && (typeof v !== "string" || v.length > 64)) return `${field} must be a link id`;
  }
  if (
    r.routingVersion !== undefined &&
    (!Number.isSafeInteger(r.routingVersion) || (r.routingVersion as number) < 1)
  )
    return "routingVersion must be a positive integer";
  if (typeof r.evidence !== "object" || r.evidence === null || Array.isArray(r.evidence))
    return "evidence must be an object";
  return null;
}

export class AuditLog {
  private seq = 0;
  /** Appends and rotations of the local file, one at a time so that a rotation never loses an append. */
  private readonly fileWrites = new SerialQueue();
  /** Records in the current local file, counted once when the first write needs it. */
  private inFile: number | null = null;

  constructor(
    private readonly consul: Consul,
    private readonly file: string,
    private readonly replica: string,
    private readonly log: Logger,
    private readonly onConsulError: () => void,
    private readonly onSkipped: (source: "consul" | "file", count: number) => void,
    /** Records the local file holds before it is rotated. */
    private readonly fileRetain: number,
  ) {}

  /** The record of `entry` with its id and time, written nowhere yet. */
  stamp(entry: NewAuditRecord, at = Date.now()): AuditRecord {
    this.seq += 1;
    const id = `${String(at).padStart(15, "0")}-${this.replica}-${String(this.seq).padStart(6, "0")}`;
    return { id, at: new Date(at).toISOString(), ...entry };
  }

  /** The operation that writes `record` to Consul, for a transaction that writes it with what it explains. */
  consulOp(record: AuditRecord): KvTxnOp {
    return {
      Verb: "set",
      Key: `${CONSUL_KEYS.audit}${record.id}`,
      Value: encodeValue(JSON.stringify(record)),
    };
  }

  /** Stamps and keeps a decision that wrote nothing else to Consul. */
  async record(entry: NewAuditRecord, at = Date.now()): Promise<AuditRecord> {
    const record = this.stamp(entry, at);
    await this.keep(record, false);
    return record;
  }

  /**
   * Writes the record to the file and, unless a transaction already put it there, to Consul; a failure of
   * either is logged, never thrown.
   */
  async keep(record: AuditRecord, inConsul: boolean): Promise<void> {
    const line = JSON.stringify(record);
    await this.fileWrites.run(async () => {
      try {
        if (this.inFile === null) {
          await mkdir(dirname(this.file), { recursive: true });
          this.inFile = nonEmptyLines(await readFile(this.file, "utf8").catch(() => "")).length;
        }
        await appendFile(this.file, `${line}\n`);
        this.inFile += 1;
        if (this.inFile < this.fileRetain) return;
        await rename(this.file, `${this.file}.1`);
        this.inFile = 0;
      } catch (err) {
        this.log.error({ err: (err as Error).message, file: this.file }, "audit file write failed");
      }
    });
    if (!inConsul) {
      try {
        await this.consul.kv.set(`${CONSUL_KEYS.audit}${record.id}`, line);
      } catch (err) {
        this.onConsulError();
        this.log.error({ err: (err as Error).message, record: record.id }, "audit write to Consul failed");
      }
    }
    this.log.info({ audit: record }, `decision: ${record.kind}`);
  }

  /**
   * One page, newest first, of the records older than `before` (an id; all when absent): from Consul, reading
   * the key names and then only the page's values, or from the local file when Consul cannot be read.
   */
  async list(limit: number, before?: string): Promise<AuditPage> {
    let ids: string[];
    try {
      ids = await this.ids();
    } catch (err) {
      this.onConsulError();
      this.log.warn({ err: (err as Error).message }, "audit read from Consul failed; reading the local file");
      return this.fromFile(limit, before);
    }
    const older = ids.filter((id) => before === undefined || id < before).reverse();
    const wanted = older.slice(0, limit);
    let values: (string | null)[];
    try {
      // get-or-empty answers ModifyIndex 0 for a key that is gone (deleted since it was listed: pruned).
      values = (await this.eachRecord(wanted, "get-or-empty")).map((r) =>
        r.ModifyIndex === 0 ? null : Buffer.from(r.Value ?? "", "base64").toString("utf8"),
      );
    } catch (err) {
      this.onConsulError();
      this.log.warn({ err: (err as Error).message }, "audit read from Consul failed; reading the local file");
      return this.fromFile(limit, before);
    }
    const present = wanted.flatMap((id, i) =>
      values[i] === null ? [] : [{ id, text: values[i] as string }],
    );
    const records = present.flatMap(({ id, text }) => parseRecord(text, id));
    const skipped = present.length - records.length;
    if (skipped > 0) this.onSkipped("consul", skipped);
    return { source: "consul", records, skipped, next: nextCursor(older, wanted) };
  }

  /** Deletes the oldest records in Consul beyond the newest `retain`; how many it deleted. */
  async prune(retain: number): Promise<number> {
    const ids = await this.ids();
    const excess = ids.slice(0, Math.max(0, ids.length - retain));
    await this.eachRecord(excess, "delete");
    return excess.length;
  }

  /** One operation on each record's key, as few transactions as Consul's operation limit allows. */
  private async eachRecord(ids: readonly string[], verb: "get-or-empty" | "delete"): Promise<KvTxnResult[]> {
    const results: KvTxnResult[] = [];
    for (let i = 0; i < ids.length; i += TXN_MAX_OPS) {
      const ops = ids
        .slice(i, i + TXN_MAX_OPS)
        .map((id) => ({ Verb: verb, Key: `${CONSUL_KEYS.audit}${id}` }));
      const outcome = await kvTxn(this.consul, ops);
      if (!outcome.ok) throw new Error(outcome.errors.map((e) => e.What).join("; "));
      results.push(...outcome.results);
    }
    return results;
  }

  /** The ids of every record in Consul, oldest first (key order is time order). */
  private async ids(): Promise<string[]> {
    let keys: string[];
    try {
      keys = (await this.consul.kv.keys(CONSUL_KEYS.audit)) as string[];
    } catch (err) {
      if ((err as { response?: { statusCode?: number } }).response?.statusCode === 404) return [];
      throw err;
    }
    return keys.map((k) => k.slice(CONSUL_KEYS.audit.length)).sort();
  }

  private async fromFile(limit: number, before?: string): Promise<AuditPage> {
    const texts = await Promise.all(
      [`${this.file}.1`, this.file].map((path) => readFile(path, "utf8").catch(() => "")),
    );
    const lines = nonEmptyLines(texts.join("\n"));
    const parsed = lines.flatMap((line) => parseRecord(line));
    const skipped = lines.length - parsed.length;
    if (skipped > 0) this.onSkipped("file", skipped);
    const older = parsed
      .filter((r) => before === undefined || r.id < before)
      .sort((a, b) => (a.id < b.id ? 1 : -1));
    const records = older.slice(0, limit);
    return { source: "file", records, skipped, next: nextCursor(older, records) };
  }
}

function nonEmptyLines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

function nextCursor<T>(all: readonly T[], page: readonly T[]): string | null {
  const last = page.at(-1);
  if (last === undefined || page.length === all.length) return null;
  return typeof last === "string" ? last : (last as { id: string }).id;
}

/** The record in `text` when it is a valid one (and, read from Consul, the one its key names). */
function parseRecord(text: string, keyId?: string): AuditRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  if (auditProblem(value) !== null) return [];
  const record = value as AuditRecord;
  return keyId === undefined || record.id === keyId ? [record] : [];
}
