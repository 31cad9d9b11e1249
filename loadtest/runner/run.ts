import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readStackFile } from "../../devstack/supervisor/stackFile.ts";
import type { Catalog, PlannedRequest, Scenario } from "../k6/scenarios/types.ts";
import { startActions } from "./actions.ts";
import { runLoad } from "./engine.ts";
import { Metrics } from "./metrics.ts";
import { mix } from "./scenarios.ts";
import { describeLoad, renderSummary, saveSummary } from "./summary.ts";
import { evaluateThresholds, THRESHOLDS_FAILED_EXIT_CODE } from "./thresholds.ts";

// Running a load description either way: a k6 script under k6 when it is on PATH, or the same description
// through the Node runner, with the same summary, thresholds and exit code (0 met, 99 crossed). Addresses come
// from GATEWAY_URL, API_KEY, COMPARATOR_URL and ADMIN_TOKEN, or else from the running dev stack
// (.devstack/stack.json).

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function onPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return null;
}

export interface Targets {
  gatewayUrl: string;
  apiKey: string;
  comparatorUrl: string | null;
  adminToken: string;
}

export async function targets(): Promise<Targets> {
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

/** Runs loadtest/k6/<script>.js under k6 with the targets (and `env`) in its environment; k6's exit code. */
export function runK6(
  k6: string,
  script: string,
  t: Targets,
  env: Record<string, string> = {},
): Promise<number> {
  const childEnv = {
    ...process.env,
    ...env,
    GATEWAY_URL: t.gatewayUrl,
    API_KEY: t.apiKey,
    COMPARATOR_URL: t.comparatorUrl ?? "",
    ADMIN_TOKEN: t.adminToken,
  };
  const child = spawn(k6, ["run", join(ROOT, "loadtest/k6", `${script}.js`)], {
    env: childEnv,
    stdio: "inherit",
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

/** Runs a description through the Node runner, prints k6's summary, saves the figures; the exit code. */
export async function runNode(
  scenario: Scenario,
  t: Targets,
  requestAt?: (n: number) => PlannedRequest | null,
): Promise<number> {
  const catalog = await fetch(`${t.gatewayUrl}/v1/catalog`, { headers: { "x-api-key": t.apiKey } });
  if (!catalog.ok) throw new Error(`GET ${t.gatewayUrl}/v1/catalog answered ${catalog.status}`);
  const cumulative = mix.cumulativeMetrics((await catalog.json()) as Catalog);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`${scenario.name}: ${describeLoad(scenario.load)} against ${t.gatewayUrl} (Node runner)`);
  const metrics = new Metrics();
  const running = startActions(scenario, t, metrics, log);
  const result = await runLoad({
    scenario,
    targets: [t.gatewayUrl],
    apiKey: t.apiKey,
    cumulative,
    windowMs: 60_000,
    metrics,
    requestAt,
  });
  running.stop();
  const verdicts = evaluateThresholds(scenario.thresholds, result.metrics.all(), result.elapsedMs / 1000);
  process.stdout.write(`${renderSummary(scenario, result, verdicts, running.memory)}\n`);
  log(`figures saved to ${await saveSummary(scenario, result, verdicts, running.memory)}`);
  return verdicts.every((v) => v.ok) ? 0 : THRESHOLDS_FAILED_EXIT_CODE;
}
