import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { CONSUL_KEYS } from "../../common/routing.ts";
import { waitFor } from "../../harness/links.ts";
import { type LinkFixture, readRouting, type Stack, startStack, writeLink } from "./harness.ts";

// Two comparator processes (comparator/main.ts) against the same links and Consul: only the holder of the
// leader lock writes; when it dies without a word (SIGKILL) the other takes over once the dead one's session
// expires; SIGTERM releases the lock and exits 0.

const LINKS = ["a", "b", "c"];
const MAIN = new URL("../../comparator/main.ts", import.meta.url).pathname;

interface Replica {
  id: string;
  child: ChildProcess;
  url: Promise<string>;
  exited: Promise<number | null>;
}

function spawnReplica(stack: Stack, id: string): Replica {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: "info",
    LINKS: LINKS.join(","),
    CONSUL_HTTP_ADDR: `127.0.0.1:${stack.consulServer.port}`,
    COMPARATOR_PORT: "0",
    COMPARATOR_ID: id,
    PROBE_INTERVAL: "100ms",
    AUDIT_FILE: join(stack.dir, `audit-${id}.jsonl`),
  };
  for (const link of LINKS) {
    env[`KAFKA_BROKERS_${link.toUpperCase()}`] = "127.0.0.1:1";
    env[`REDIS_URL_${link.toUpperCase()}`] = stack.redis.get(link)?.server.url;
  }
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.resume();
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (line.includes('"comparator started"')) resolve((JSON.parse(line) as { address: string }).address);
    });
    child.once("exit", (code) => reject(new Error(`replica ${id} exited (${code}) before it started`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { id, child, url, exited };
}

async function get(replica: Replica, path: string) {
  const res = await fetch(`${await replica.url}${path}`);
  return { status: res.status, text: await res.text() };
}

async function isLeader(replica: Replica): Promise<boolean> {
  return (JSON.parse((await get(replica, "/v1/routing")).text) as { leader: { isLeader: boolean } }).leader
    .isLeader;
}

describe("comparator replicas", () => {
  let stack: Stack;
  const faults = new Map<string, LinkFixture>();
  let writer: NodeJS.Timeout;
  const replicas: Replica[] = [];

  before(async () => {
    stack = await startStack(LINKS);
    // Processors stand-in: every link's state rewritten continuously, with the faults the test sets.
    const write = () =>
      Promise.all(LINKS.map((l) => writeLink(stack, l, faults.get(l) ?? {}))).catch(() => {});
    await write();
    writer = setInterval(write, 100);
  });

  after(async () => {
    clearInterval(writer);
    for (const r of replicas) r.child.kill("SIGKILL");
    await Promise.all(replicas.map((r) => r.exited));
    await stack.stop();
  });

  it("has exactly one writer, which the other replaces when it dies, and releases the lock on SIGTERM", async () => {
    replicas.push(spawnReplica(stack, "r1"));
    await replicas[0]?.url;
    replicas.push(spawnReplica(stack, "r2"));
    const [r1, r2] = replicas as [Replica, Replica];
    await waitFor("both replicas to be ready", async () => {
      return (await get(r1, "/readyz")).status === 200 && (await get(r2, "/readyz")).status === 200;
    });
    assert.equal(await isLeader(r1), true, "the first to start holds the lock");
    assert.equal(await isLeader(r2), false);

    faults.set("a", { heartbeatAgeMs: 60_000 });
    await waitFor(
      "the routing to leave link a",
      async () => (await readRouting(stack.consul))?.active !== "a",
    );
    await waitFor("the follower to judge link a down too", async () =>
      (await get(r2, "/v1/links")).text.includes('"id":"a","priority":1,"state":"down"'),
    );
    const routing = await readRouting(stack.consul);
    assert.equal(routing?.version, 2, "one failover, written once");
    assert.equal(routing?.changedBy, "r1");
    assert.doesNotMatch(
      (await get(r2, "/metrics")).text,
      /oneservice_comparator_decisions_total\{[^}]*\} [1-9]/,
    );

    r1.child.kill("SIGKILL");
    await r1.exited;
    await waitFor("r2 to take the lock over", () => isLeader(r2), 60_000);
    faults.set("b", { heartbeatAgeMs: 60_000 });
    await waitFor(
      "r2 to move the routing off link b",
      async () => (await readRouting(stack.consul))?.active !== "b",
    );
    const taken = await readRouting(stack.consul);
    assert.equal(taken?.version, 3);
    assert.equal(taken?.active, "c");
    assert.equal(taken?.changedBy, "r2");

    r2.child.kill("SIGTERM");
    assert.equal(await r2.exited, 0);
    const lock = (await stack.consul.kv.get(CONSUL_KEYS.comparatorLeader)) as { Session?: string } | null;
    assert.equal(lock?.Session, undefined, "the lock was released, not left to expire");
  });
});
