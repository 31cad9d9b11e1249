import { inSpan } from "../common/telemetry.ts";
import type { AuditRecord, NewAuditRecord } from "./audit.ts";
import type { StateChange } from "./judge.ts";
import type { Replica } from "./replica.ts";

// Every decision of the replica (automatic or an operator's, acted on or not) is kept the same way: the audit
// trail, a counter, a span carrying the evidence, and the `decision` event.

/** A decision that wrote nothing else to Consul. */
export function recordDecision(r: Replica, entry: NewAuditRecord, at?: number): Promise<AuditRecord> {
  return keepDecision(r, r.audit.stamp(entry, at), false);
}

/** `inConsul`: the transaction that made the change carried the record already. */
export async function keepDecision(r: Replica, record: AuditRecord, inConsul: boolean): Promise<AuditRecord> {
  const attributes: Record<string, string | number> = {
    kind: record.kind,
    by: record.by,
    reason: record.reason,
    evidence: JSON.stringify(record.evidence).slice(0, 8_000),
  };
  for (const key of ["link", "from", "to", "routingVersion"] as const) {
    const value = record[key];
    if (value !== undefined) attributes[key] = value;
  }
  await inSpan(r.tracer, "comparator.decision", attributes, () => r.audit.keep(record, inConsul));
  r.metrics.decisions.inc({ kind: record.kind });
  r.events.emit("decision", record);
  return record;
}

export function stateChangeRecord(change: StateChange, by: string): NewAuditRecord {
  const detail = change.findings.map((f) => f.detail).join("; ");
  return {
    kind: "state_change",
    by,
    link: change.link,
    from: change.from,
    to: change.to,
    reason: `link ${change.link}: ${change.from} -> ${change.to}${detail ? `: ${detail}` : ""}`,
    evidence: {
      findings: change.findings,
      onset: change.onset,
      detectedAt: change.at,
      detectionMs: change.at - change.onset,
    },
  };
}
