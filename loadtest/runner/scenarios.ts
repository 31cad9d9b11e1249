import { readdirSync } from "node:fs";
import type {
  Catalog,
  DipTracker,
  Load,
  MixEntry,
  PlannedRequest,
  ReplayPlan,
  ReplayRequest,
  RoutingView,
  Scenario,
  ScenarioOf,
} from "../k6/scenarios/types.ts";

// The scenario descriptions and the request mix that the k6 scripts use, loaded as they are (plain
// JavaScript in loadtest/k6/scenarios/). The imports are dynamic so that TypeScript does not need to read
// JavaScript; what they export is typed here by hand and checked against types.ts when k6's own type
// check (npm run typecheck:k6) reads the JavaScript.

const DIR = new URL("../k6/scenarios/", import.meta.url);

interface MixModule {
  nextRequest(mix: readonly MixEntry[]): PlannedRequest;
  cumulativeMetrics(catalog: Catalog): string[];
  createDipTracker(cumulative: readonly string[]): DipTracker;
}

interface ActionsModule {
  failoverBody(view: RoutingView): string | null;
  residentMiB(text: string): number | null;
}

interface DurationModule {
  durationMs(text: string): number;
  loadDurationMs(load: Load): number;
}

interface ScenarioModule {
  scenario: ScenarioOf;
}

interface CommonModule {
  DAY_MIX: MixEntry[];
  constantRate(env: Record<string, string | undefined>, prefix: string, rate: number, duration: string): Load;
}

interface CallLogModule {
  replayScenario(
    plan: Pick<ReplayPlan, "load" | "speed" | "requests">,
    env: Record<string, string | undefined>,
  ): Scenario;
  requestOf(requests: ArrayLike<ReplayRequest>, iteration: number): ReplayRequest | null;
}

const load = <T>(file: string): Promise<T> => import(new URL(file, DIR).href) as Promise<T>;

export const mix = await load<MixModule>("mix.js");
export const actions = await load<ActionsModule>("actions.js");
export const durations = await load<DurationModule>("duration.js");
export const common = await load<CommonModule>("common.js");
export const { replayScenario, requestOf } = await load<CallLogModule>("callLog.js");

/** Names of the scenarios: every k6 script (loadtest/k6/<name>.js) with a description (scenarios/<name>.js). */
export function scenarioNames(): string[] {
  const descriptions = new Set(readdirSync(DIR));
  return readdirSync(new URL("../", DIR))
    .filter((f) => f.endsWith(".js") && descriptions.has(f))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** The description of scenario `name`, with the environment's overrides (PEAK_RATE…) applied. */
export async function loadScenario(
  name: string,
  env: Record<string, string | undefined> = process.env,
): Promise<Scenario> {
  const names = scenarioNames();
  if (!names.includes(name))
    throw new Error(`no scenario ${JSON.stringify(name)}; there are ${names.join(", ")}`);
  return (await load<ScenarioModule>(`${name}.js`)).scenario(env);
}
