import type { RoutingView, Scenario } from "../k6/scenarios/types.ts";
import type { Metrics } from "./metrics.ts";
import { actions, durations } from "./scenarios.ts";

// A scenario's actions beside its load, as the k6 scripts run them: the operator failover at its moment, and
// the gateway's memory read from /metrics at its pace into gateway_rss_mb.

export interface ActionTargets {
  gatewayUrl: string;
  comparatorUrl: string | null;
  adminToken: string;
}

export interface MemorySample {
  at: number;
  mib: number;
}

export interface RunningActions {
  /** The gateway's resident memory over the run, for its drift. */
  memory: MemorySample[];
  stop(): void;
}

export function startActions(
  scenario: Scenario,
  to: ActionTargets,
  metrics: Metrics,
  log: (line: string) => void,
): RunningActions {
  const timers: NodeJS.Timeout[] = [];
  const memory: MemorySample[] = [];
  if (scenario.failover) {
    const at = durations.durationMs(scenario.failover.at);
    timers.push(setTimeout(() => void failover(to, log), at));
  }
  if (scenario.sampleMemory) {
    const every = durations.durationMs(scenario.sampleMemory.every ?? "10s");
    const sample = async () => {
      try {
        const mib = actions.residentMiB(await (await fetch(`${to.gatewayUrl}/metrics`)).text());
        if (mib === null) return;
        metrics.gatewayRssMb.add(mib);
        memory.push({ at: Date.now(), mib });
      } catch (err) {
        log(`memory sample failed: ${(err as Error).message}`);
      }
    };
    timers.push(
      setTimeout(() => {
        void sample();
        timers.push(setInterval(() => void sample(), every));
      }, durations.durationMs(scenario.sampleMemory.at)),
    );
  }
  return {
    memory,
    stop() {
      for (const t of timers) clearTimeout(t);
    },
  };
}

async function failover(to: ActionTargets, log: (line: string) => void): Promise<void> {
  if (!to.comparatorUrl) {
    log("failover skipped: no comparator address");
    return;
  }
  try {
    const view = (await (await fetch(`${to.comparatorUrl}/v1/routing`)).json()) as RoutingView;
    const body = actions.failoverBody(view);
    if (body === null) throw new Error("no standby link to fail over to");
    const res = await fetch(`${to.comparatorUrl}/v1/failover`, {
      method: "POST",
      headers: { authorization: `Bearer ${to.adminToken}`, "content-type": "application/json" },
      body,
    });
    const answer = (await res.json()) as { routing?: { active: string; version: number }; message?: string };
    log(
      res.ok
        ? `failover: routing version ${answer.routing?.version}, active link ${answer.routing?.active}`
        : `failover refused (${res.status}): ${answer.message}`,
    );
  } catch (err) {
    log(`failover failed: ${(err as Error).message}`);
  }
}
