import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { resultPath } from "../runner/results.ts";
import { onPath, runK6, runNode, targets } from "../runner/run.ts";
import { replayScenario, requestOf } from "../runner/scenarios.ts";
import { readCallLogs, recordedRate, replayPlan } from "./prepare.ts";

// npm run loadtest -- replay --from <call log files…> [--speed N | --rate N] [--node]
//
// Reads the gateway's call logs, writes the replay plan under loadtest/results/ (the file k6's replay.js
// loads), and replays it with k6 when it is installed, else with the Node runner: the recorded reads in
// their order and at their relative times, `--speed` times faster (or as fast as makes `--rate` requests/s
// on average), with the usual summary, thresholds and exit code.

const USAGE =
  "usage: npm run loadtest -- replay --from <call log files…> [--speed N | --rate N] [--node]\n" +
  "  --speed N  replay N times faster than recorded (default 1)\n" +
  "  --rate N   replay at N requests/s on average, the recording's shape kept\n" +
  "  --node     use the Node runner even if k6 is installed";

export async function replayMain(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      from: { type: "string", multiple: true },
      speed: { type: "string" },
      rate: { type: "string" },
      node: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  const files = [...(values.from ?? []), ...positionals];
  if (values.help || files.length === 0 || (values.speed && values.rate)) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const { requests, skipped } = await readCallLogs(files);
  const recorded = recordedRate(requests);
  const speed = values.rate
    ? positive("--rate", values.rate) / recorded
    : positive("--speed", values.speed ?? "1");
  const plan = replayPlan(files, requests, speed);
  const apps = new Map<string, number>();
  for (const r of plan.requests) apps.set(r.app, (apps.get(r.app) ?? 0) + 1);
  log(
    `recorded: ${requests.length} reads from ${plan.firstAt} to ${plan.lastAt} (${recorded.toFixed(1)}/s), ` +
      `by application: ${[...apps].map(([app, n]) => `${app} ${n}`).join(", ")}`,
  );
  if (skipped.size > 0) log(`not replayed: ${[...skipped].map(([why, n]) => `${n}× ${why}`).join("; ")}`);
  log(
    `replaying at ${speed.toFixed(2)}×: ${(recorded * speed).toFixed(1)} requests/s on average over ${plan.load.stages.length / 2} s`,
  );
  const file = `${await resultPath("replay-plan")}.json`;
  await writeFile(file, JSON.stringify(plan));
  log(`plan written to ${file}`);
  const t = await targets();
  const k6 = values.node ? null : onPath("k6");
  if (k6) return runK6(k6, "replay", t, { REPLAY_FILE: file });
  return runNode(replayScenario(plan, process.env), t, (n) => requestOf(plan.requests, n));
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n))
    throw new Error(`${flag} must be a number above 0, not ${JSON.stringify(text)}`);
  return n;
}
