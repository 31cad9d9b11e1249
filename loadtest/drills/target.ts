import { alive } from "../../devstack/supervisor/linkServices.ts";
import { readStackFile, type StackFile } from "../../devstack/supervisor/stackFile.ts";
import { startOwnStack } from "../../harness/devStack.ts";
import type { Catalog } from "../k6/scenarios/types.ts";
import { loadScenario, mix } from "../runner/scenarios.ts";
import type { DrillTarget } from "./drill.ts";
import { startExtraGateway } from "./extraGateway.ts";

// The stack the drills run against: the one `npm start` is running (.devstack/stack.json), or one of the
// drills' own in a temporary directory, always with a second gateway beside the stack's.

export interface DrillStack {
  target: DrillTarget;
  /** Whether the drills started the stack themselves (close() stops it). */
  own: boolean;
  close(): Promise<void>;
}

// The supervisor of the drills' own stack waits 3 s before restarting a crashed service, so that a killed
// Redis stays down for longer than the comparator takes to judge it (three probes): the drill then shows a
// switch rather than a race between the restart and the judgement. A Redis back within that time is a blip
// the gateways ride out by reading from a standby, with no switch needed.
const DRILL_STACK = { RESTART_BACKOFF_INITIAL: "3s" };

async function stackRunning(): Promise<boolean> {
  try {
    return alive((await readStackFile()).pid);
  } catch {
    return false;
  }
}

/**
 * `env`: settings of the drills' own stack (on top of OWN_STACK_DEFAULTS), also given to the second gateway;
 * a running stack keeps its own.
 */
export async function openDrillStack(
  o: { own: boolean; env?: Record<string, string> },
  log: (line: string) => void,
): Promise<DrillStack> {
  const started: { stop(): Promise<void> }[] = [];
  const close = async () => {
    for (const part of started.reverse()) await part.stop();
  };
  try {
    let read: () => Promise<StackFile> = () => readStackFile();
    const own = o.own || !(await stackRunning());
    if (own) {
      log("starting a dev stack of the drills' own (temporary directory, free ports)");
      const stack = await startOwnStack({ ...DRILL_STACK, ...o.env });
      started.push(stack);
      read = stack.read;
    } else log("using the running dev stack (.devstack/stack.json)");
    const stack = await read();
    if (!stack.gatewayUrl || !stack.comparatorUrl)
      throw new Error("the dev stack runs no gateway or no comparator");
    const extra = await startExtraGateway(stack, own ? (o.env ?? {}) : {});
    started.push(extra);
    const catalog = await fetch(`${stack.gatewayUrl}/v1/catalog`, { headers: { "x-api-key": stack.apiKey } });
    const target: DrillTarget = {
      read,
      comparatorUrl: stack.comparatorUrl,
      gateways: [stack.gatewayUrl, extra.url],
      apiKey: stack.apiKey,
      cumulative: mix.cumulativeMetrics((await catalog.json()) as Catalog),
      scenario: await loadScenario("failover"),
    };
    return { target, own, close };
  } catch (err) {
    await close();
    throw err;
  }
}
