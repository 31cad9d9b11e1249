import { Redis } from "ioredis";
import { keys } from "../../common/keys.ts";
import type { StackFile, StackFileLink } from "../../devstack/supervisor/stackFile.ts";
import { waitFor } from "../../harness/links.ts";

// The faults a drill injects into the running stack, each through the stack's own handles (PIDs and
// addresses in stack.json, the embedded Kafka's fault endpoint). The supervisor restarts what is killed, as
// it would in production; what it cannot repair (a stopped process, brokers taken down, wrong data) the
// fault's own repair undoes.

export const FAULT_NAMES = [
  "processor-kill",
  "processor-stop",
  "redis-kill",
  "divergence",
  "kafka-down",
  "consul-restart",
  "gateway-restart",
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export interface FaultContext {
  stack: StackFile;
  /** The link the fault is injected into: the active one. */
  link: string;
  /** The business day the comparator compares. */
  date: string;
}

export interface Fault {
  name: FaultName;
  title: string;
  /** Whether the comparator must move the routing away from the faulted link. */
  switches: boolean;
  /** Injects the fault; resolves with what repairs it, or null when the supervisor does (a restart). */
  inject(ctx: FaultContext): Promise<(() => Promise<void>) | null>;
  /** For a fault of a shared part (no switch): resolves once the part serves again. */
  back?(ctx: FaultContext, readStack: () => Promise<StackFile>): Promise<void>;
}

function linkOf(ctx: FaultContext): StackFileLink {
  const link = ctx.stack.links.find((l) => l.id === ctx.link);
  if (!link) throw new Error(`no link ${ctx.link} in stack.json`);
  return link;
}

function servicePid(stack: StackFile, name: string): number {
  const pid = stack.services.find((s) => s.name === name)?.pid;
  if (pid === null || pid === undefined) throw new Error(`${name} is not running (stack.json)`);
  return pid;
}

function signalProcessors(ctx: FaultContext, signal: NodeJS.Signals): number[] {
  const pids = linkOf(ctx).processors.flatMap((p) => (p.pid === null ? [] : [p.pid]));
  if (pids.length === 0) throw new Error(`link ${ctx.link} has no running processor`);
  for (const pid of pids) process.kill(pid, signal);
  return pids;
}

async function brokers(adminUrl: string | null, action: "down" | "up"): Promise<void> {
  if (!adminUrl) throw new Error("the link uses a real Kafka: no fault endpoint to take it down");
  const res = await fetch(`${adminUrl}/brokers/all/${action}`, { method: "POST" });
  if (!res.ok) throw new Error(`POST ${adminUrl}/brokers/all/${action} answered ${res.status}`);
}

/**
 * A shared part restarted: its process sent `signal`, brought back by the supervisor, back once it runs
 * under a new PID and `health` (a URL of the new stack.json) answers.
 */
function restart(
  name: FaultName,
  title: string,
  service: string,
  signal: NodeJS.Signals,
  health: (stack: StackFile) => string,
): Fault {
  return {
    name,
    title,
    switches: false,
    async inject(ctx) {
      process.kill(servicePid(ctx.stack, service), signal);
      return null;
    },
    async back(ctx, readStack) {
      const old = servicePid(ctx.stack, service);
      await waitFor(
        `${service} to be back`,
        async () => {
          const stack = await readStack();
          const pid = stack.services.find((s) => s.name === service)?.pid;
          if (pid === null || pid === undefined || pid === old) return false;
          const res = await fetch(health(stack), { signal: AbortSignal.timeout(1_000) }).catch(() => null);
          return res?.ok === true;
        },
        60_000,
      );
    },
  };
}

// The wrong data: a lost write of this many cents of GMV every DIVERGENCE_EVERY_MS, enough to stand out
// of the links' ordinary jitter within a few probes; the repair adds back exactly what was taken.
const DIVERGENCE_CENTS = 20_000;
const DIVERGENCE_EVERY_MS = 100;

export const FAULTS: Record<FaultName, Fault> = {
  "processor-kill": {
    name: "processor-kill",
    title: "processor killed (SIGKILL)",
    switches: true,
    async inject(ctx) {
      signalProcessors(ctx, "SIGKILL");
      return null;
    },
  },
  "processor-stop": {
    name: "processor-stop",
    title: "processor stalled (SIGSTOP)",
    switches: true,
    async inject(ctx) {
      const pids = signalProcessors(ctx, "SIGSTOP");
      return async () => {
        for (const pid of pids) process.kill(pid, "SIGCONT");
      };
    },
  },
  "redis-kill": {
    name: "redis-kill",
    title: "Redis killed (SIGKILL)",
    switches: true,
    async inject(ctx) {
      process.kill(servicePid(ctx.stack, `redis-${ctx.link}`), "SIGKILL");
      return null;
    },
  },
  divergence: {
    name: "divergence",
    title: "wrong data (GMV writes lost)",
    switches: true,
    async inject(ctx) {
      const redis = new Redis(linkOf(ctx).redisUrl, { maxRetriesPerRequest: 1 });
      const key = keys.day(ctx.date, "gmv", "all");
      let taken = 0;
      // One write at a time, so that the repair knows exactly what was taken.
      let writes = Promise.resolve();
      const timer = setInterval(() => {
        writes = writes
          .then(() =>
            redis.zincrby(key, -DIVERGENCE_CENTS, "all").then(() => {
              taken += DIVERGENCE_CENTS;
            }),
          )
          .catch(() => {});
      }, DIVERGENCE_EVERY_MS);
      return async () => {
        clearInterval(timer);
        await writes;
        await redis.zincrby(key, taken, "all");
        redis.disconnect();
      };
    },
  },
  "kafka-down": {
    name: "kafka-down",
    title: "Kafka brokers down",
    switches: true,
    async inject(ctx) {
      const { kafkaAdminUrl } = linkOf(ctx);
      await brokers(kafkaAdminUrl, "down");
      return () => brokers(kafkaAdminUrl, "up");
    },
  },
  "consul-restart": restart(
    "consul-restart",
    "Consul restarted (SIGKILL)",
    "consul",
    "SIGKILL",
    (stack) => `${stack.consulUrl}/v1/status/leader`,
  ),
  "gateway-restart": restart(
    "gateway-restart",
    "gateway restarted (SIGTERM)",
    "gateway",
    "SIGTERM",
    (stack) => `${stack.gatewayUrl}/healthz`,
  ),
};
