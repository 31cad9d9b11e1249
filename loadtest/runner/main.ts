import { parseArgs } from "node:util";
import { recordMain } from "../replay/record.ts";
import { replayMain } from "../replay/replay.ts";
import { onPath, runK6, runNode, targets } from "./run.ts";
import { loadScenario, scenarioNames } from "./scenarios.ts";

// npm run loadtest -- <scenario> [--node]
// npm run loadtest -- replay --from <call log files> [--speed N | --rate N] [--node]
// npm run loadtest -- record [--duration 5m] [--rate 50] [--out file]
//
// Runs loadtest/k6/<scenario>.js with k6 when k6 is on PATH, else the same description with the Node runner:
// same load, same request mix, same thresholds, same exit code (0 met, 99 crossed). Scenario knobs
// (PEAK_RATE, FAILOVER_RATE, SOAK_DURATION…) are read from the environment by both. `replay` sends the reads
// of a recorded call log again; `record` makes such a log from the running stack (loadtest/replay/).

const USAGE = [
  "usage: npm run loadtest -- <scenario> [--node]",
  `  scenarios: ${scenarioNames().join(", ")}`,
  "  --node  use the Node runner even if k6 is installed",
  "       npm run loadtest -- replay --from <call log files…> [--speed N | --rate N] [--node]",
  "       npm run loadtest -- record [--duration 5m] [--rate 50] [--out <file>]",
].join("\n");

async function scenarioMain(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { node: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  const [name] = positionals;
  if (values.help || !name || positionals.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const t = await targets();
  const k6 = values.node ? null : onPath("k6");
  return k6 ? await runK6(k6, name, t) : await runNode(await loadScenario(name), t);
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === "replay") process.exitCode = await replayMain(rest);
  else if (command === "record") process.exitCode = await recordMain(rest);
  else process.exitCode = await scenarioMain(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`loadtest: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
