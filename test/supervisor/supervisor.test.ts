import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { keys } from "../../common/keys.ts";
import { TOPICS } from "../../common/topics.ts";
import { alive } from "../../devstack/supervisor/linkServices.ts";
import { readStackFile, type StackFile } from "../../devstack/supervisor/stackFile.ts";
import { waitFor } from "../../harness/links.ts";

// `npm start` as a user runs it, with a small stack: two links of two partitions, a slow generator, free
// ports and a temporary DEVSTACK_DIR. Everything is checked through the addresses in stack.json.

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "devstack/supervisor/main.ts");

interface Supervisor {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function startSupervisor(dir: string, extraEnv: NodeJS.ProcessEnv = {}): Supervisor {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LINKS: "a,b",
    KAFKA_PARTITIONS: "2",
    GENERATOR_RATE: "20",
    CONSUL_PORT: "0",
    GATEWAY_PORT: "0",
    COMPARATOR_PORT: "0",
    DEVSTACK_DIR: dir,
    RESTART_BACKOFF_INITIAL: "100ms",
    ...extraEnv,
  };
  for (const name of Object.keys(env)) if (/^(KAFKA_BROKERS|REDIS_URL)_/.test(name)) delete env[name];
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (d: Buffer) => {
    output = (output + d).slice(-50_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** Every PID stack.json knows of: the supervisor, each service, each processor. */
function pidsOf(stack: StackFile): number[] {
  const pids = [stack.pid, ...stack.services.map((s) => s.pid)];
  for (const link of stack.links) pids.push(...link.processors.map((p) => p.pid));
  return [...new Set(pids.filter((p): p is number => p !== null))];
}

function service(stack: StackFile, name: string) {
  const found = stack.services.find((s) => s.name === name);
  assert.ok(found, `${name} is in stack.json`);
  return found;
}

async function ping(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return await redis.ping();
  } finally {
    redis.disconnect();
  }
}

async function waitForStackFile(supervisor: Supervisor, file: string): Promise<void> {
  await waitFor(
    "stack.json",
    () => {
      if (supervisor.child.exitCode !== null)
        throw new Error(`the supervisor exited early:\n${supervisor.output()}`);
      return existsSync(file);
    },
    120_000,
  );
}

describe("npm start", { timeout: 240_000 }, () => {
  let dir: string;
  let supervisor: Supervisor;
  let stackFile: string;
  // Every PID seen, so that `after` can make sure none is left whatever failed.
  const seen = new Set<number>();

  const read = async () => {
    const stack = await readStackFile(stackFile);
    for (const pid of pidsOf(stack)) seen.add(pid);
    return stack;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "supervisor-e2e-"));
    stackFile = join(dir, "stack.json");
    supervisor = startSupervisor(dir);
    await waitForStackFile(supervisor, stackFile);
    await read();
  });

  after(async () => {
    if (supervisor.child.exitCode === null && supervisor.child.signalCode === null) {
      supervisor.child.kill("SIGTERM");
      await supervisor.exited;
    }
    for (const pid of seen) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("writes stack.json, and every address in it answers", async () => {
    const stack = await read();
    assert.deepEqual(
      stack.links.map((l) => l.id),
      ["a", "b"],
    );
    assert.equal(stack.apiKey, "dev-api-key");
    assert.equal(stack.adminToken, "dev-admin-token");
    assert.notEqual(stack.pid, supervisor.child.pid, "the supervisor runs in its own process group");
    assert.equal(alive(stack.pid), true);

    const leader = await fetch(`${stack.consulUrl}/v1/status/leader`);
    assert.equal(leader.status, 200);
    for (const link of stack.links) {
      assert.equal(await ping(link.redisUrl), "PONG", `redis of ${link.id}`);
      const admin = new Kafka({
        clientId: "supervisor-test",
        brokers: [link.kafkaBootstrap],
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      try {
        const topics = await admin.fetchTopicMetadata({ topics: [TOPICS.orders] });
        assert.equal(topics.topics[0]?.partitions.length, 2, `kafka of ${link.id}`);
      } finally {
        await admin.disconnect();
      }
      assert.ok(link.kafkaAdminUrl, `link ${link.id} has a fault endpoint`);
      const status = await fetch(`${link.kafkaAdminUrl}/status`);
      assert.equal(status.status, 200);
      assert.equal(link.processors.length, 1);
      for (const p of link.processors) {
        const health = await fetch(`${p.opsUrl}/healthz`);
        assert.equal(health.status, 200, `processor of ${link.id}`);
      }
    }
    // The gateway and comparator run once their entries exist; then they must answer too.
    for (const url of [stack.gatewayUrl, stack.comparatorUrl]) {
      if (url === null) continue;
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200, url);
    }
    assert.match(supervisor.output(), /OneService HA dev stack is up: 2 links/);
  });

  it("carries the generator's events through to the links' Redis", async () => {
    const stack = await read();
    const clients = stack.links.map((l) => new Redis(l.redisUrl));
    try {
      await waitFor(
        "offsets in every link's Redis",
        async () => {
          const sizes = await Promise.all(clients.map((c) => c.hlen(keys.offsets)));
          return sizes.every((n) => n > 0);
        },
        90_000,
      );
      for (const c of clients) assert.ok((await c.hlen(keys.sellerTier)) > 0, "seller tiers were loaded");
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it("restarts a killed processor, and a killed redis-server on the same address", async () => {
    const before = await read();
    const processor = service(before, "processor-a-1");
    const redis = service(before, "redis-b");
    process.kill(processor.pid as number, "SIGKILL");
    process.kill(redis.pid as number, "SIGKILL");
    await waitFor(
      "both restarted",
      async () => {
        const now = await read();
        const p = service(now, "processor-a-1");
        const r = service(now, "redis-b");
        return p.pid !== null && p.pid !== processor.pid && r.pid !== null && r.pid !== redis.pid;
      },
      90_000,
    );
    const after = await read();
    assert.ok(service(after, "processor-a-1").restarts >= 1);
    assert.ok(service(after, "redis-b").restarts >= 1);
    assert.equal(after.links[1]?.redisUrl, before.links[1]?.redisUrl, "redis came back on its port");
    assert.equal(await ping(after.links[1]?.redisUrl as string), "PONG");
    assert.equal(after.links[0]?.processors[0]?.pid, service(after, "processor-a-1").pid);
    const health = await fetch(`${after.links[0]?.processors[0]?.opsUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.match(supervisor.output(), /SERVICE DOWN: processor-a-1 was killed by SIGKILL/);
  });

  it("refuses to start a second supervisor on the same DEVSTACK_DIR", async () => {
    const second = startSupervisor(dir);
    assert.equal(await second.exited, 1);
    assert.match(second.output(), /another dev stack is running \(supervisor pid \d+/);
  });

  it("stops everything on SIGTERM and exits 0, leaving no process and no stack.json", async () => {
    const stack = await read();
    supervisor.child.kill("SIGTERM");
    assert.equal(await supervisor.exited, 0, supervisor.output());
    for (const pid of seen) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    assert.ok(pidsOf(stack).length >= 8, "supervisor, 2 kafka, 2 redis, consul, 2 processors, generator");
    assert.equal(existsSync(stackFile), false);
    assert.match(supervisor.output(), /dev stack stopped/);
  });
});

describe("npm start without its parent", { timeout: 180_000 }, () => {
  let dir: string;
  let supervisor: Supervisor;
  let pids: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "supervisor-orphan-"));
  });

  after(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("stops the whole stack when the process that started it is killed with SIGKILL", async () => {
    supervisor = startSupervisor(dir, { LINKS: "a", START_GENERATOR: "false" });
    const stackFile = join(dir, "stack.json");
    await waitForStackFile(supervisor, stackFile);
    pids = pidsOf(await readStackFile(stackFile));
    supervisor.child.kill("SIGKILL");
    await supervisor.exited;
    await waitFor("every process of the stack to end", () => pids.every((pid) => !alive(pid)), 60_000);
    assert.ok(pids.length >= 5, "supervisor, kafka, redis, consul, processor (and what else exists)");
  });
});

describe("npm start refuses", () => {
  it("a bad setting, naming it, with exit code 2", async () => {
    const run = startSupervisor(tmpdir(), { LINKS: "a,B!" });
    assert.equal(await run.exited, 2);
    assert.match(run.output(), /LINKS=.*item "B!" must match/);
  });

  it("to start without redis-server and librdkafka, saying how to install each, with exit code 2", async () => {
    const run = startSupervisor(tmpdir(), {
      PATH: "/nonexistent",
      LIBRDKAFKA_PATH: "/nonexistent/librdkafka.so.1",
    });
    assert.equal(await run.exited, 2);
    assert.match(run.output(), /librdkafka not found.*apt-get install librdkafka1/);
    assert.match(run.output(), /redis-server not found.*apt-get install redis-server/);
  });
});
