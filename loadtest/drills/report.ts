import type { DrillReport } from "./drill.ts";

// A drill's figures as text: one line per drill while they run, and the summary table of a series.

const s = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(2)} s`);

export function describeDrill(r: DrillReport): string {
  const lines = [
    `${r.title}${r.expectsSwitch ? ` on link ${r.link}` : ` (link ${r.link} active)`}:`,
    r.switchedTo !== null
      ? `  judged ${r.judged ?? "?"} after ${s(r.detectMs)}; routing to ${r.switchedTo} written to Consul after ${s(r.writeMs)} (decision → write ${r.decideToWriteMs ?? "-"} ms)`
      : r.expectsSwitch
        ? `  NO SWITCH: link ${r.link} stayed active${r.judged ? ` (judged ${r.judged} after ${s(r.detectMs)})` : ""}`
        : `  no switch needed; back after ${s(r.backMs)}`,
    `  all ${r.gateways} gateways acknowledged after ${s(r.ackedMs)}; first answer under the new routing after ${s(r.servedMs)}`,
    `  ${r.requests} requests, ${r.failed} failed, ${r.retried} retried on the other gateway, p99 ${r.p99Ms.toFixed(1)} ms; ` +
      `${r.dips} dips (largest ${r.maxDip}); ${r.stale} answers flagged stale`,
  ];
  for (const e of r.errors) lines.push(`  error: ${e}`);
  if (r.chart) lines.push(`  chart: ${r.chart}`);
  return lines.join("\n");
}

const COLUMNS: [string, (r: DrillReport) => string][] = [
  ["drill", (r) => r.fault],
  ["link", (r) => (r.switchedTo ? `${r.link} → ${r.switchedTo}` : r.link)],
  ["judged", (r) => r.judged ?? "-"],
  ["detect", (r) => s(r.detectMs)],
  ["Consul write", (r) => s(r.writeMs)],
  ["all gateways acked", (r) => s(r.ackedMs)],
  ["first answer on new routing", (r) => s(r.servedMs)],
  ["back", (r) => s(r.backMs)],
  ["requests", (r) => String(r.requests)],
  ["failed", (r) => String(r.failed)],
  ["retried", (r) => String(r.retried)],
  ["max dip", (r) => String(r.maxDip)],
  ["stale", (r) => String(r.stale)],
  ["p99", (r) => `${r.p99Ms.toFixed(1)} ms`],
];

/** Markdown: times are from the fault; "back" is for faults of a shared part, which do not switch. */
export function summaryTable(reports: DrillReport[]): string {
  const rows = [COLUMNS.map(([h]) => h), ...reports.map((r) => COLUMNS.map(([, cell]) => cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [
    line(rows[0] as string[]),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ].join("\n");
}
