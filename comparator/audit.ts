import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type Consul from "consul";
import type { Logger } from "../common/logger.ts";
import { CONSUL_KEYS } from "../common/routing.ts";

// The audit trail: every decision with its evidence, kept twice. In Consul (one key per record under
// CONSUL_KEYS.audit, named so that key order is time order) it is shared by the replicas and survives this
// process; the local JSON-lines file survives Consul being unreachable, and is what GET /v1/audit falls back
// to then.

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

export class AuditLog {
  private seq = 0;
  private readonly dirReady: Promise<unknown>;

  constructor(
    private readonly consul: Consul,
    private readonly file: string,
    private readonly replica: string,
    private readonly log: Logger,
    private readonly onConsulError: () => void,
  ) {
    this.dirReady = mkdir(dirname(file), { recursive: true });
  }

  /** Writes the record to the file, then to Consul; a failure of either is logged, never thrown. */
  async record(entry: NewAuditRecord, at = Date.now()): Promise<AuditRecord> {
    this.seq += 1;
    const id = `${String(at).padStart(15, "0")}-${this.replica}-${String(this.seq).padStart(6, "0")}`;
    const record: AuditRecord = { id, at: new Date(at).toISOString(), ...entry };
    const line = JSON.stringify(record);
    try {
      await this.dirReady;
      await appendFile(this.file, `${line}\n`);
    } catch (err) {
      this.log.error({ err: (err as Error).message, file: this.file }, "audit file write failed");
    }
    try {
      await this.consul.kv.set(`${CONSUL_KEYS.audit}${id}`, line);
    } catch (err) {
      this.onConsulError();
      this.log.error({ err: (err as Error).message, record: id }, "audit write to Consul failed");
    }
    this.log.info({ audit: record }, `decision: ${record.kind}`);
    return record;
  }

  /** Newest first; from Consul, or from the local file when Consul cannot be read. */
  async list(limit: number): Promise<{ source: "consul" | "file"; records: AuditRecord[] }> {
    try {
      const items = await this.consul.kv.get({ key: CONSUL_KEYS.audit, recurse: true });
      const list = Array.isArray(items) ? items : items ? [items] : [];
      const records = list
        .sort((a, b) => (a.Key < b.Key ? 1 : -1))
        .slice(0, limit)
        .flatMap((item) => parseRecord(item.Value ?? ""));
      return { source: "consul", records };
    } catch (err) {
      this.onConsulError();
      this.log.warn({ err: (err as Error).message }, "audit read from Consul failed; reading the local file");
      return { source: "file", records: await this.fromFile(limit) };
    }
  }

  private async fromFile(limit: number): Promise<AuditRecord[]> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch {
      return [];
    }
    return text
      .split("\n")
      .flatMap(parseRecord)
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .slice(0, limit);
  }
}

function parseRecord(line: string): AuditRecord[] {
  if (line.trim() === "") return [];
  try {
    return [JSON.parse(line) as AuditRecord];
  } catch {
    return [];
  }
}
