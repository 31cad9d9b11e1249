import type { StackFile } from "./stackFile.ts";

// The table `npm start` prints once the stack is up: where everything listens, for a human to click on.

export function renderTable(stack: StackFile, paths: { stackFile: string; logs: string }): string {
  const rows: string[][] = [["link", "kafka", "redis", "fault endpoint", "processors /metrics"]];
  for (const link of stack.links) {
    const metrics = link.processors.map((p) => `${p.opsUrl}/metrics`);
    rows.push([link.id, link.kafkaBootstrap, link.redisUrl, link.kafkaAdminUrl ?? "-", metrics[0] ?? "-"]);
    for (const more of metrics.slice(1)) rows.push(["", "", "", "", more]);
  }
  const notStarted = "not started (no entry yet)";
  const lines = [
    `OneService HA dev stack is up: ${stack.links.length} links, supervisor pid ${stack.pid}`,
    "",
    ...columns(rows),
    "",
    ...columns([
      ["consul", stack.consulUrl],
      ["gateway", stack.gatewayUrl ?? notStarted],
      ["comparator", stack.comparatorUrl ? `${stack.comparatorUrl}  (ops console)` : notStarted],
      ["api key", stack.apiKey],
      ["admin token", stack.adminToken],
      ["addresses", paths.stackFile],
      ["logs", paths.logs],
    ]),
    "",
    "Ctrl-C stops everything.",
  ];
  return `${lines.join("\n")}\n`;
}

function columns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd(),
  );
}
