import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "../../devstack/supervisor/freePort.ts";
import type { StackFile } from "../../devstack/supervisor/stackFile.ts";
import { ADMIN_TOKEN, API_KEY, TIME_ZONE, useHarness, waitFor } from "../gateway/helpers.ts";

// `npm run loadtest -- record` against a gateway run as the dev stack runs it (gateway/main.ts, its log in a
// file named by stack.json): the sample call log holds the call lines written while it ran, with what a
// replay needs, and none of the lines the gateway wrote before it started.

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("recording a sample call log", () => {
  const h = useHarness(["a"]);
  let gateway: ChildProcess;
  let gatewayUrl: string;
  let dir: string;

  before(async () => {
    await h.setDay("a", "gmv", "all", "all", 1_000_00);
    await h.publishRouting({ version: 1, active: "a" });
    const port = await freePort();
    gatewayUrl = `http://127.0.0.1:${port}`;
    dir = h.dir;
    const log = join(dir, "gateway.log");
    const out = openSync(log, "a");
    gateway = spawn(process.execPath, ["--import", "tsx", "gateway/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        LINKS: "a",
        REDIS_URL_A: h.link("a").redis.url,
        CONSUL_HTTP_ADDR: `127.0.0.1:${h.consulServer.port}`,
        API_KEYS: `screen=${API_KEY}`,
        ADMIN_TOKEN,
        GATEWAY_PORT: String(port),
        ROUTING_CACHE_FILE: join(dir, "routing.json"),
        TIME_ZONE,
      },
      stdio: ["ignore", out, out],
    });
    closeSync(out);
    await waitFor(
      "the gateway to be ready",
      async () => (await fetch(`${gatewayUrl}/readyz`).catch(() => null))?.ok === true,
      60_000,
    );
    const stack: Partial<StackFile> = {
      gatewayUrl,
      apiKey: API_KEY,
      services: [{ name: "gateway", pid: gateway.pid ?? null, restarts: 0, log }],
    };
    await writeFile(join(dir, "stack.json"), JSON.stringify(stack));
    // A call before the recording starts: it must not be in the sample.
    await fetch(`${gatewayUrl}/v1/metrics/gmv?dim=seller&key=before-recording`, {
      headers: { "x-api-key": API_KEY },
    });
  });

  after(() => {
    gateway?.kill("SIGTERM");
  });

  test("writes the call lines of the recording's time, each with what a replay needs", async () => {
    const out = join(dir, "calls.ndjson");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "loadtest/runner/main.ts",
        "record",
        "--duration",
        "3s",
        "--rate",
        "20",
        "--out",
        out,
      ],
      { cwd: ROOT, env: { ...process.env, DEVSTACK_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stderr?.on("data", (c: Buffer) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, output);
    const lines = (await readFile(out, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.match(output, new RegExp(`${lines.length} call lines written to `));
    assert.ok(lines.length >= 50, `${lines.length} lines for 3 s at 20 requests/s`);
    for (const l of lines) {
      assert.equal(l.msg, "call");
      assert.equal(l.app, "screen");
      assert.equal(typeof l.path, "string");
      if (l.method === "POST") assert.equal(typeof l.body, "string");
    }
    assert.ok(
      lines.some((l) => l.method === "POST"),
      "the day's mix has batch queries",
    );
    assert.ok(!lines.some((l) => String(l.path).includes("before-recording")));
    assert.ok(!JSON.stringify(lines).includes(API_KEY), "no key in the sample");
  });
});
