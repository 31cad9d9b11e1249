import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startConsulDevServer } from "../../devstack/consul/server.ts";
import { clientFor, indexOf, NODE, raw } from "./helpers.ts";

// The dev server must not forget the routing document across a restart: the state is snapshotted to a file
// and restored at start, with the indexes going on from where they were.

const ROUTING = JSON.stringify({ version: 7, active: "b", standby: ["a", "c"], mode: "manual" });

describe("consul dev server: durability", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "consul-dev-persist-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("restores keys, sessions, locks and indexes after a restart", async () => {
    const dataFile = join(dir, "restart", "state.json");
    const first = await startConsulDevServer({ port: 0, nodeName: NODE, dataFile });
    const c1 = clientFor(first);
    await c1.kv.set("oneservice/routing", ROUTING);
    await c1.kv.set("oneservice/health/a", "healthy");
    await c1.kv.set("oneservice/health/gone", "x");
    await c1.kv.del("oneservice/health/gone");
    const { ID: session } = (await c1.session.create({ name: "comparator" })) as { ID: string };
    assert.equal(await c1.kv.set({ key: "oneservice/leader", value: "me", acquire: session }), true);
    const routingBefore = await c1.kv.get("oneservice/routing");
    const prefixBefore = indexOf(await raw(first, "GET", "/v1/kv/oneservice/health/?recurse"));
    const lastBefore = indexOf(await raw(first, "GET", "/v1/kv/oneservice/?recurse"));
    c1.destroy();
    await first.close();

    const second = await startConsulDevServer({ port: 0, nodeName: NODE, dataFile });
    const c2 = clientFor(second);
    try {
      assert.deepEqual(await c2.kv.get("oneservice/routing"), routingBefore);
      assert.equal(indexOf(await raw(second, "GET", "/v1/kv/oneservice/health/?recurse")), prefixBefore);
      assert.equal(((await c2.session.info(session)) as unknown as { ID: string }).ID, session);
      const leader = (await c2.kv.get("oneservice/leader")) as unknown as {
        Session: string;
        LockIndex: number;
      };
      assert.equal(leader.Session, session);
      assert.equal(leader.LockIndex, 1);

      await c2.kv.set("oneservice/routing", "next");
      const after = await c2.kv.get("oneservice/routing");
      assert.ok((after?.ModifyIndex as number) > lastBefore);
      assert.equal(after?.CreateIndex, routingBefore?.CreateIndex);
    } finally {
      c2.destroy();
      await second.close();
    }
  });

  it("writes the snapshot soon after a change, atomically, without waiting for close", async () => {
    const sub = join(dir, "debounce");
    const dataFile = join(sub, "state.json");
    const server = await startConsulDevServer({ port: 0, nodeName: NODE, dataFile, snapshotDelayMs: 20 });
    try {
      const c = clientFor(server);
      await c.kv.set("written", "soon");
      c.destroy();
      let text = "";
      for (let i = 0; i < 200 && !text.includes("written"); i++) {
        await new Promise((r) => setTimeout(r, 25));
        text = await readFile(dataFile, "utf8").catch(() => "");
      }
      assert.match(text, /"key": "written"/);
      assert.deepEqual(await readdir(sub), ["state.json"]);
    } finally {
      await server.close();
    }
  });

  it("refuses to start on a damaged snapshot rather than forget the state", async () => {
    const dataFile = join(dir, "damaged.json");
    await writeFile(dataFile, '{"format": "consul-dev-snapshot/1", "entries": [');
    await assert.rejects(startConsulDevServer({ port: 0, dataFile }), (err: Error) => {
      assert.ok(err.message.includes(dataFile));
      return true;
    });
  });

  it("runs as a process that logs its URL when ready and flushes the snapshot on SIGTERM", async () => {
    const dataFile = join(dir, "process", "state.json");
    const main = fileURLToPath(new URL("../../devstack/consul/main.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", main], {
      env: { ...process.env, CONSUL_DEV_PORT: "0", CONSUL_DEV_DATA: dataFile, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const lines = createInterface({ input: child.stdout });
      let url = "";
      for await (const line of lines) {
        const entry = JSON.parse(line) as { event?: string; url?: string };
        if (entry.event === "ready") {
          url = entry.url ?? "";
          break;
        }
      }
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const put = await fetch(`${url}/v1/kv/oneservice/routing`, { method: "PUT", body: ROUTING });
      assert.equal(await put.text(), "true");
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      const saved = JSON.parse(await readFile(dataFile, "utf8")) as {
        entries: { key: string; value: string }[];
      };
      const routing = saved.entries.find((e) => e.key === "oneservice/routing");
      assert.equal(Buffer.from(routing?.value ?? "", "base64").toString(), ROUTING);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
