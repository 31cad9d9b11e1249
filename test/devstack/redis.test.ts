import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { type RunningRedis, startRedis } from "../../devstack/redis/launcher.ts";
import { useTempDir } from "./tempDir.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("redis launcher", () => {
  const started: RunningRedis[] = [];
  const tmp = useTempDir("redis-test-", () => Promise.all(started.map((r) => r.stop())));

  it("keeps data across a restart on the same directory and leaves no process behind", async () => {
    const dataDir = join(tmp(), "a");
    const first = await startRedis({ linkId: "a", dataDir });
    started.push(first);
    assert.match(first.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    const client = new Redis(first.url);
    await client.set("os:test", "kept");
    await client.hset("os:hash", { f1: "1", f2: "2" });
    client.disconnect();
    await first.stop();
    assert.equal(await first.exited, 0, "SIGTERM is a clean shutdown");
    assert.equal(alive(first.pid), false, "the first server's process is gone");

    const second = await startRedis({ linkId: "a", dataDir });
    started.push(second);
    assert.notEqual(second.pid, first.pid);
    const again = new Redis(second.url);
    assert.equal(await again.get("os:test"), "kept");
    assert.deepEqual(await again.hgetall("os:hash"), { f1: "1", f2: "2" });
    assert.equal(await again.config("GET", "save").then((r) => (r as string[])[1]), "");
    again.disconnect();
    await second.stop();
    await second.stop();
    assert.equal(alive(second.pid), false);
  });

  it("says how to install redis-server when the binary is missing", async () => {
    await assert.rejects(
      startRedis({ linkId: "a", dataDir: join(tmp(), "missing"), binary: "/nonexistent/redis-server" }),
      /apt-get install redis-server/,
    );
  });

  it("quotes the server's log when it cannot start", async () => {
    const blocker: Server = createServer();
    blocker.listen(0, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(startRedis({ linkId: "b", dataDir: join(tmp(), "b"), port }), (err: Error) => {
        assert.match(err.message, /did not become ready/);
        assert.match(err.message, /Address already in use/);
        return true;
      });
    } finally {
      blocker.close();
    }
  });
});
