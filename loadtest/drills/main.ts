import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { resultPath } from "../runner/results.ts";
import { type DrillOptions, type DrillReport, runDrill } from "./drill.ts";
import { FAULT_NAMES, FAULTS, type FaultName } from "./faults.ts";
import { describeDrill, summaryTable } from "./report.ts";
import { openDrillStack } from "./target.ts";

// npm run drill -- <fault>|all [--own-stack] [--rate 200] [--baseline 5] [--hold 5] [--after 3] [--no-png]
//
// Fault drills against the full local stack under load: the running `npm start` if there is one, else a
// stack of the drills' own (--own-stack forces that). Each drill prints its figures and draws its timeline
// (HTML and PNG) under loadtest/results/drills-<time>/; `all` runs every drill in turn and writes the
// summary table there too (summary.md, summary.json). Exit 1 if any drill failed a request, let a caller
// see a cumulative value drop, or did not switch when it should have.

const USAGE = `usage: npm run drill -- <${FAULT_NAMES.join("|")}|all> [--own-stack] [--rate N] [--baseline S] [--hold S] [--after S] [--no-png]`;

const { values, positionals } = parseArgs({
  options: {
    "own-stack": { type: "boolean", default: false },
    rate: { type: "string", default: "200" },
    baseline: { type: "string", default: "5" },
    hold: { type: "string", default: "5" },
    after: { type: "string", default: "3" },
    "no-png": { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
  allowPositionals: true,
});
const [which] = positionals;
if (values.help || !which || positionals.length > 1 || !(which === "all" || which in FAULTS)) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}
const names: FaultName[] = which === "all" ? [...FAULT_NAMES] : [which as FaultName];
const log = (line: string) => process.stderr.write(`${line}\n`);
const outDir = await resultPath("drills", true);
const options: DrillOptions = {
  rate: Number(values.rate),
  baselineMs: Number(values.baseline) * 1000,
  holdMs: Number(values.hold) * 1000,
  afterMs: Number(values.after) * 1000,
  steadyTimeoutMs: 180_000,
  switchTimeoutMs: 30_000,
  outDir,
  png: !values["no-png"],
};

const drillStack = await openDrillStack({ own: values["own-stack"] }, log);
const reports: DrillReport[] = [];
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    void drillStack.close().then(() => process.exit(130));
  });
try {
  for (const name of names) {
    log(
      `drill ${name}: waiting for a steady stack, then ${values.rate} req/s through ${drillStack.target.gateways.length} gateways`,
    );
    const report = await runDrill(drillStack.target, FAULTS[name], options);
    reports.push(report);
    process.stdout.write(`${describeDrill(report)}\n\n`);
  }
} finally {
  await drillStack.close();
}
const table = summaryTable(reports);
process.stdout.write(`${table}\n`);
await writeFile(join(outDir, "summary.md"), `${table}\n`);
await writeFile(join(outDir, "summary.json"), `${JSON.stringify({ options, reports }, null, 2)}\n`);
log(`results in ${outDir}`);
const bad = reports.filter((r) => r.failed > 0 || r.dips > 0 || (r.expectsSwitch && !r.switchedTo));
process.exitCode = bad.length === 0 ? 0 : 1;
