import { createReadStream } from "node:fs";
import { stat, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { readStackFile } from "../../devstack/supervisor/stackFile.ts";
import type { Catalog, Scenario } from "../k6/scenarios/types.ts";
import { runLoad } from "../runner/engine.ts";
import { resultPath } from "../runner/results.ts";
import { common, durations, mix } from "../runner/scenarios.ts";

// npm run loadtest -- record [--duration 5m] [--rate 50] [--out <file>]
//
// A sample call log from the running dev stack: the gateway's call lines written while the command runs,
// copied from its log file. The dev stack has no callers of its own, so by default the command is the day's
// callers too: the ordinary request mix at --rate requests/s (--rate 0 only listens, e.g. to a big screen
// left open). In production the same lines are the gateway's stdout, wherever the cluster keeps logs.

const USAGE = "usage: npm run loadtest -- record [--duration 5m] [--rate 50] [--out <file>]";
const PROGRESS_MS = 10_000;

export async function recordMain(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string", default: "5m" },
      rate: { type: "string", default: "50" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  const durationMs = durations.durationMs(values.duration);
  const rate = Number(values.rate);
  if (!Number.isInteger(rate) || rate < 0)
    throw new Error(`--rate must be a whole number ≥ 0, not ${values.rate}`);
  const stack = await readStackFile();
  const gatewayLog = stack.services.find((s) => s.name === "gateway")?.log;
  if (!stack.gatewayUrl || !gatewayLog) throw new Error("the dev stack runs no gateway");
  const out = values.out ?? `${await resultPath("calls")}.ndjson`;
  const from = (await stat(gatewayLog)).size;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(
    `recording ${gatewayLog} for ${values.duration}${rate > 0 ? `, calling the gateway at ${rate} requests/s` : ""}`,
  );

  let answered = 0;
  const started = Date.now();
  const progress = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    log(`  ${s} s of ${durationMs / 1000} s: ${answered} requests answered`);
  }, PROGRESS_MS);
  try {
    if (rate > 0) {
      const scenario: Scenario = {
        name: "record",
        description: "a normal day's callers",
        load: common.constantRate({}, "RECORD", rate, `${durationMs}ms`),
        mix: common.DAY_MIX,
        thresholds: {},
      };
      const catalog = await fetch(`${stack.gatewayUrl}/v1/catalog`, {
        headers: { "x-api-key": stack.apiKey },
      });
      const cumulative = mix.cumulativeMetrics((await catalog.json()) as Catalog);
      await runLoad({
        scenario,
        targets: [stack.gatewayUrl],
        apiKey: stack.apiKey,
        cumulative,
        onAnswer: () => {
          answered += 1;
        },
      });
    } else await new Promise((resolve) => setTimeout(resolve, durationMs));
  } finally {
    clearInterval(progress);
  }

  const calls: string[] = [];
  const lines = createInterface({
    input: createReadStream(gatewayLog, { start: from }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) if (line.includes('"msg":"call"')) calls.push(line);
  await writeFile(out, calls.length > 0 ? `${calls.join("\n")}\n` : "");
  log(`${calls.length} call lines written to ${out}`);
  log(`replay them 10× faster: npm run loadtest -- replay --from ${out} --speed 10`);
  return calls.length > 0 ? 0 : 1;
}
