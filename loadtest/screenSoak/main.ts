import { parseArgs } from "node:util";
import { readStackFile, type StackFile } from "../../devstack/supervisor/stackFile.ts";
import { type OwnStack, startOwnStack } from "../../harness/devStack.ts";
import { resultPath } from "../runner/results.ts";
import { durations } from "../runner/scenarios.ts";
import type { Band } from "./charts.ts";
import { operatorFailover, stopAllLinks } from "./disruptions.ts";
import { openSoakPages } from "./pages.ts";
import { writeReport } from "./report.ts";
import { AFTER_FAILOVER, type Bounds, DOWN, judge, RECOVERED, type Sample, STEADY } from "./verdict.ts";

// npm run screen:soak -- [--duration 24h] [--fast] [--own-stack] [--calm]
//
// The big screen's stability test: /screen and the ops console open in headless Chromium for the whole
// duration, sampled through the DevTools protocol, against the running dev stack (or a stack of its own).
// At 20% of the run an operator fails over; from 30%, for a tenth of the run (at most 10 minutes), every
// link is down. Both are over before the second half, whose growth is what the leak rule judges: the ops
// console's audit trail and the page's state after an outage settle first. The report (HTML, PNG charts) lands in loadtest/results/screen-soak-<time>/; the exit code
// is 0 when the verdict passes, 1 when it does not.
//
// --fast runs a stack of its own whose stream pushes every 50 ms instead of every second, so a minute of it
// stands for 20 minutes of page time (growth is judged per hour of page time), and samples every second.

const USAGE = "usage: npm run screen:soak -- [--duration 24h] [--fast] [--own-stack] [--calm]";
const FAST_STREAM_INTERVAL = "50ms";
const FAST_FACTOR = 20;

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "24h" },
    fast: { type: "boolean", default: false },
    "own-stack": { type: "boolean", default: false },
    calm: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function soak(): Promise<number> {
  const durationMs = durations.durationMs(values.duration);
  const fast = values.fast;
  const everyMs = fast ? 1_000 : 5_000;
  const bounds: Bounds = {
    heapBytesPerHour: 5 * 1048576,
    nodesPerHour: 1_000,
    frozenWindowMs: fast ? 10_000 : 60_000,
    timeFactor: fast ? FAST_FACTOR : 1,
  };
  let own: OwnStack | null = null;
  let resume: (() => void) | null = null;
  const stop = () => {
    resume?.();
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    let stack: StackFile;
    if (fast || values["own-stack"]) {
      log(`starting a dev stack of its own${fast ? ` (stream every ${FAST_STREAM_INTERVAL})` : ""}…`);
      own = await startOwnStack(fast ? { STREAM_INTERVAL: FAST_STREAM_INTERVAL } : {});
      stack = await own.read();
    } else stack = await readStackFile();
    if (!stack.gatewayUrl || !stack.comparatorUrl)
      throw new Error("the stack runs no gateway or no comparator");
    const t = { gatewayUrl: stack.gatewayUrl, comparatorUrl: stack.comparatorUrl, apiKey: stack.apiKey };
    log("waiting for the gateway to serve and every link to be healthy…");
    await waitUntilServing(t.gatewayUrl, t.apiKey);
    await waitUntilHealthy(t.comparatorUrl);
    const pages = await openSoakPages(t);
    const dir = await resultPath("screen-soak", true);
    const startedAt = new Date().toISOString();
    const failoverAt = values.calm ? Number.POSITIVE_INFINITY : durationMs * 0.2;
    const downFrom = values.calm ? Number.POSITIVE_INFINITY : durationMs * 0.3;
    const downTo = downFrom + Math.min(600_000, durationMs * 0.1);
    const bands: Band[] = [];
    const samples: Sample[] = [];
    let phase = STEADY;
    let failoverTo: string | null = null;
    const progressEvery = fast ? 10_000 : 60_000;
    let nextProgress = 0;
    log(`soaking /screen and the ops console for ${values.duration}; report in ${dir}`);
    const started = performance.now();
    try {
      for (let at = 0; at <= durationMs; at = performance.now() - started) {
        if (phase === STEADY && at >= failoverAt) {
          // A failover that cannot be made is logged and judged as one the page never shows.
          failoverTo = await operatorFailover(stack, log).catch((err: Error) => {
            log(`failover: ${err.message}`);
            return "(refused)";
          });
          bands.push({ from: at, to: at + everyMs, label: "failover" });
          phase = AFTER_FAILOVER;
        } else if (phase === AFTER_FAILOVER && at >= downFrom) {
          resume = stopAllLinks(own ? await own.read() : stack);
          log(`every link's Redis stopped for ${((downTo - downFrom) / 1000).toFixed(0)} s`);
          bands.push({ from: at, to: downTo, label: "all links down" });
          phase = DOWN;
        } else if (phase === DOWN && at >= downTo) {
          resume?.();
          resume = null;
          log("every link's Redis resumed");
          phase = RECOVERED;
        }
        const s = await pages.sample(at, phase);
        samples.push(s);
        if (at >= nextProgress) {
          nextProgress += progressEvery;
          log(
            `  ${(at / 60000).toFixed(1)} of ${(durationMs / 60000).toFixed(0)} min (${phase}): heap ${(s.screen.heapUsed / 1048576).toFixed(1)} MiB, ` +
              `${s.screen.nodes} nodes, ${s.screen.listeners} listeners; link ${s.link || "-"} ${s.status}; ` +
              `GMV shown ${s.shown.gmv ?? "-"} API ${s.api.gmv ?? "-"}; stream connections ${s.streamConnections}`,
          );
        }
        await sleep(Math.max(0, everyMs - (performance.now() - started - at)));
      }
      await pages.screenshot(`${dir}/screen.png`);
    } finally {
      resume?.();
      await pages.close();
    }
    const verdict = judge(samples, bounds, failoverTo);
    const report = await writeReport(
      dir,
      {
        startedAt,
        durationMs,
        fast,
        gatewayUrl: t.gatewayUrl,
        samples,
        bands,
        verdict,
        errors: pages.errors,
      },
      `${dir}/screen.png`,
    );
    for (const f of verdict.findings) log(`  ${f.rule}: ${f.message}`);
    for (const e of pages.errors) log(`  page error: ${e}`);
    log(`verdict: ${verdict.ok ? "PASS" : "FAIL"} — report ${report}`);
    return verdict.ok ? 0 : 1;
  } finally {
    await own?.stop();
  }
}

/** Until the gateway answers a GMV above zero, so the soak starts with the stream updating. */
async function waitUntilServing(gatewayUrl: string, apiKey: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`${gatewayUrl}/v1/metrics/gmv`, { headers: { "x-api-key": apiKey } });
      if (res.ok && (((await res.json()) as { value: number | null }).value ?? 0) > 0) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${gatewayUrl} served no GMV within 2 minutes`);
    await sleep(500);
  }
}

/** Until the comparator judges every link healthy, so the failover has a healthy standby to go to. */
async function waitUntilHealthy(comparatorUrl: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  let states = "";
  for (;;) {
    try {
      const res = await fetch(`${comparatorUrl}/v1/links`);
      const links = ((await res.json()) as { links: { id: string; state: string }[] }).links;
      states = links.map((l) => `${l.id} ${l.state}`).join(", ");
      if (links.length > 0 && links.every((l) => l.state === "healthy")) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`the links were not all healthy within 3 minutes (${states})`);
    await sleep(1_000);
  }
}

try {
  process.exitCode = await soak();
} catch (err) {
  log(`screen:soak: ${(err as Error).message}`);
  process.exitCode = 2;
}
