import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readStackFile } from "../../devstack/supervisor/stackFile.ts";
import type { Catalog } from "../k6/scenarios/types.ts";
import { startActions } from "./actions.ts";
import { runLoad } from "./engine.ts";
import { Metrics } from "./metrics.ts";
import { loadScenario, mix, scenarioNames } from "./scenarios.ts";
import { describeLoad, renderSummary, saveSummary } from "./summary.ts";
import { evaluateThresholds, THRESHOLDS_FAILED_EXIT_CODE } from "./thresholds.ts";

// npm run loadtest -- <scenario> [--node]
//
// Runs loadtest/k6/<scenario>.js with k6 when k6 is on PATH, else the same description with the Node runner:
// same load, same request mix, same thresholds, same exit code (0 met, 99 crossed). Addresses come from
// GATEWAY_URL, API_KEY, COMPARATOR_URL and ADMIN_TOKEN, or else from the running dev stack (.devstack/
// stack.json). Scenario knobs (PEAK_RATE, FAILOVER_RATE, SOAK_DURATION…) are read from the environment by
// both.

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const USAGE = `usage: npm run loadtest -- <scenario> [--node]\n  scenarios: ${scenarioNames().join(", ")}\n  --node  use the Node runner even if k6 is installed`;

function onPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return null;
}

interface Targets {
  gatewayUrl: string;
  apiKey: string;
  comparatorUrl: string | null;
  adminToken: string;
}

async function targets(): Promise<Targets> {
  const env = process.env;
  if (env.GATEWAY_URL)
    return {
      gatewayUrl: env.GATEWAY_URL,
      apiKey: env.API_KEY ?? "dev-api-key",
      comparatorUrl: env.COMPARATOR_URL ?? null,
      adminToken: env.ADMIN_TOKEN ?? "dev-admin-token",
    };
  const stack = await readStackFile();
  if (!stack.gatewayUrl) throw new Error("the dev stack runs no gateway");
  return {
    gatewayUrl: stack.gatewayUrl,
    apiKey: env.API_KEY ?? stack.apiKey,
    comparatorUrl: env.COMPARATOR_URL ?? stack.comparatorUrl,
    adminToken: env.ADMIN_TOKEN ?? stack.adminToken,
  };
}

function runK6(k6: string, name: string, t: Targets): Promise<number> {
  const env = {
    ...process.env,
    GATEWAY_URL: t.gatewayUrl,
    API_KEY: t.apiKey,
    COMPARATOR_URL: t.comparatorUrl ?? "",
    ADMIN_TOKEN: t.adminToken,
  };
  const child = spawn(k6, ["run", join(ROOT, "loadtest/k6", `${name}.js`)], { env, stdio: "inherit" });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

async function runNode(name: string, t: Targets): Promise<number> {
  const scenario = await loadScenario(name);
  const catalog = await fetch(`${t.gatewayUrl}/v1/catalog`, { headers: { "x-api-key": t.apiKey } });
  if (!catalog.ok) throw new Error(`GET ${t.gatewayUrl}/v1/catalog answered ${catalog.status}`);
  const cumulative = mix.cumulativeMetrics((await catalog.json()) as Catalog);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`${scenario.name}: ${describeLoad(scenario.load)} against ${t.gatewayUrl} (Node runner)`);
  const metrics = new Metrics();
  const running = startActions(scenario, t, metrics, log);
  const run = runLoad({
    scenario,
    targets: [t.gatewayUrl],
    apiKey: t.apiKey,
    cumulative,
    windowMs: 60_000,
    metrics,
  });
  const result = await run;
  running.stop();
  const verdicts = evaluateThresholds(scenario.thresholds, result.metrics.all(), result.elapsedMs / 1000);
  process.stdout.write(`${renderSummary(scenario, result, verdicts, running.memory)}\n`);
  log(`figures saved to ${await saveSummary(scenario, result, verdicts, running.memory)}`);
  return verdicts.every((v) => v.ok) ? 0 : THRESHOLDS_FAILED_EXIT_CODE;
}

const { values, positionals } = parseArgs({
  options: { node: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  allowPositionals: true,
});
const [name] = positionals;
if (values.help || !name || positionals.length > 1) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}
try {
  const t = await targets();
  const k6 = values.node ? null : onPath("k6");
  process.exitCode = k6 ? await runK6(k6, name, t) : await runNode(name, t);
} catch (err) {
  process.stderr.write(`loadtest: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
