import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { freePort } from "../../devstack/supervisor/freePort.ts";
import { alive } from "../../devstack/supervisor/linkServices.ts";
import { nodeChild } from "../../devstack/supervisor/nodeChild.ts";
import { type ChildRun, type ExitStatus, SupervisedProcess } from "../../devstack/supervisor/service.ts";
import { waitFor } from "../../harness/links.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHILD = fileURLToPath(new URL("./fixtures/child.ts", import.meta.url));

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
}

/** Child runs that the test ends by hand, for exact control over how long each run lasts. */
function fakeLaunches(firstPid: number) {
  const runs: { run: ChildRun; crash: (code: number) => void }[] = [];
  const waiting: (() => void)[] = [];
  const launch = async () => {
    let end!: (status: ExitStatus) => void;
    const exited = new Promise<ExitStatus>((resolve) => {
      end = resolve;
    });
    const run: ChildRun = {
      pid: firstPid + runs.length,
      exited,
      stop: async () => end({ code: null, signal: "SIGTERM" }),
    };
    runs.push({ run, crash: (code) => end({ code, signal: null }) });
    for (const wake of waiting.splice(0)) wake();
    return run;
  };
  /** Resolves once there have been `n` launches. */
  const launched = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (runs.length >= n ? resolve() : waiting.push(check));
      check();
    });
  return { runs, launch, launched };
}

const alerts = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => String(l.msg).startsWith("SERVICE DOWN"));

describe("SupervisedProcess: restart policy", () => {
  it("restarts a crashing child with doubling delays up to the maximum, and resets after a long run", async () => {
    const { log, lines } = capturingLogger();
    const fake = fakeLaunches(1000);
    const service = new SupervisedProcess({
      name: "flaky",
      log,
      backoff: { initialMs: 20, maxMs: 150, resetAfterMs: 2_000 },
      launch: fake.launch,
    });
    await service.start();
    for (let i = 0; i < 5; i++) {
      fake.runs[i]?.crash(1);
      await fake.launched(i + 2);
    }
    // A run that outlives resetAfterMs was healthy: its crash starts again from the first delay.
    await new Promise((r) => setTimeout(r, 2_100));
    fake.runs[5]?.crash(7);
    await fake.launched(7);
    await service.stop();

    assert.deepEqual(
      alerts(lines).map((l) => l.restartInMs),
      [20, 40, 80, 150, 150, 20],
    );
    assert.equal(service.restarts, 6);
    assert.equal(alerts(lines).at(-1)?.code, 7, "the exit code is in the alert");
    assert.equal(alerts(lines).at(-1)?.level, 50, "a crash is logged at error level");
    assert.deepEqual(service.pids, [1000, 1001, 1002, 1003, 1004, 1005, 1006]);
  });

  it("does not restart a service stopped while it waits for its restart", async () => {
    const fake = fakeLaunches(2000);
    const service = new SupervisedProcess({
      name: "stopped-in-backoff",
      log: capturingLogger().log,
      backoff: { initialMs: 300, maxMs: 300, resetAfterMs: 300 },
      launch: fake.launch,
    });
    await service.start();
    fake.runs[0]?.crash(1);
    await new Promise((r) => setImmediate(r));
    await service.stop();
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(fake.runs.length, 1, "no launch after stop()");
    assert.equal(service.pid, undefined);
  });

  it("retries a launch that fails, with backoff, until it succeeds", async () => {
    const { log, lines } = capturingLogger();
    const fake = fakeLaunches(3000);
    let attempts = 0;
    const service = new SupervisedProcess({
      name: "slow-to-start",
      log,
      backoff: { initialMs: 10, maxMs: 1_000, resetAfterMs: 60_000 },
      launch: async () => {
        attempts++;
        if (attempts === 2 || attempts === 3) throw new Error(`attempt ${attempts} failed`);
        return fake.launch();
      },
    });
    await service.start();
    fake.runs[0]?.crash(1);
    await fake.launched(2);
    await service.stop();
    assert.equal(attempts, 4);
    assert.deepEqual(
      alerts(lines).map((l) => [l.restartInMs, l.error ?? l.code]),
      [
        [10, 1],
        [20, "attempt 2 failed"],
        [40, "attempt 3 failed"],
      ],
    );
  });
});

describe("SupervisedProcess with real child processes", () => {
  let dir: string;
  const services: SupervisedProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "supervisor-service-"));
  });

  after(async () => {
    for (const s of services) await s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function pidsIn(file: string): Promise<number[]> {
    try {
      return (await readFile(file, "utf8")).trim().split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  function child(name: string, env: Record<string, string>, readyUrl?: string) {
    const service = new SupervisedProcess({
      name,
      log: capturingLogger().log,
      backoff: { initialMs: 100, maxMs: 400, resetAfterMs: 60_000 },
      launch: nodeChild({
        name,
        entry: CHILD,
        cwd: ROOT,
        env: () => ({ ...process.env, ...env }),
        logFile: join(dir, `${name}.log`),
        readyUrl,
        readyTimeoutMs: 60_000,
        stopTimeoutMs: 1_000,
      }),
    });
    services.push(service);
    return service;
  }

  it("restarts a crashing child, and stop() leaves none of its processes", async () => {
    const pidFile = join(dir, "crash.pids");
    const service = child("crasher", { CHILD_MODE: "crash", CHILD_PID_FILE: pidFile });
    await service.start();
    await waitFor("three runs", async () => (await pidsIn(pidFile)).length >= 3, 60_000);
    await service.stop();
    const pids = await pidsIn(pidFile);
    assert.ok(service.restarts >= 2, `restarted ${service.restarts} times`);
    assert.equal(new Set(pids).size, pids.length, "every run is a new process");
    for (const pid of [...pids, ...service.pids]) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    const log = await readFile(join(dir, "crasher.log"), "utf8");
    assert.equal(log.match(/crashing on purpose/g)?.length, pids.length, "every run's output is appended");
  });

  it("waits for the ready URL, and stops a serving child with SIGTERM", async () => {
    const pidFile = join(dir, "serve.pids");
    const port = await freePort();
    const service = child(
      "server",
      { CHILD_MODE: "serve", CHILD_PORT: String(port), CHILD_PID_FILE: pidFile },
      `http://127.0.0.1:${port}/healthz`,
    );
    await service.start();
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), "ok", "ready means it answers");
    const pid = service.pid as number;
    assert.equal(alive(pid), true);
    await service.stop();
    assert.equal(alive(pid), false);
    assert.equal(service.restarts, 0, "a stop is not a crash");
  });

  it("kills a child that ignores SIGTERM once the stop bound has passed", async () => {
    const pidFile = join(dir, "stubborn.pids");
    const service = child("stubborn", { CHILD_MODE: "stubborn", CHILD_PID_FILE: pidFile });
    await service.start();
    await waitFor("the child's SIGTERM handler", async () => (await pidsIn(pidFile)).length === 1, 60_000);
    const pid = service.pid as number;
    await service.stop();
    assert.equal(alive(pid), false);
    const log = await readFile(join(dir, "stubborn.log"), "utf8");
    assert.match(log, /ignoring SIGTERM/);
  });

  it("reports the child's own output when it dies before it is ready", async () => {
    const pidFile = join(dir, "early.pids");
    const port = await freePort();
    const service = child(
      "early-crash",
      { CHILD_MODE: "crash", CHILD_PID_FILE: pidFile },
      `http://127.0.0.1:${port}/healthz`,
    );
    await assert.rejects(
      service.start(),
      /early-crash \(pid \d+\) exited \(code 3, signal null\) before it was ready.*\n.*crashing on purpose/,
    );
    for (const pid of await pidsIn(pidFile)) assert.equal(alive(pid), false);
  });
});
