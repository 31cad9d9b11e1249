import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { keys } from "../../common/keys.ts";
import { type RunningRedis, startRedis } from "../../devstack/redis/launcher.ts";
import { LuaScript } from "../../processor/luaScript.ts";

// applyBatch.lua under a Redis that is out of memory: as a flagged script (Redis 7 shebang, no allow-oom)
// it is refused before it runs a single command, with Redis's own OOM error rather than an error raised
// from inside the script, so a batch can never be applied in part and then again on the retry.

const script = new LuaScript(new URL("../../processor/applyBatch.lua", import.meta.url));
const TP = "trade.orders:0";

function effect(dayKey: string): string {
  return JSON.stringify({
    zincr: [[dayKey, "all", "100"]],
    hincr: [],
    hll: [],
    stateSet: [],
    stateDeleted: [],
    counters: [["late", "1"]],
    firstMinuteTime: "",
  });
}

describe("hardening: the apply script when Redis is out of memory", () => {
  let dir: string;
  let redis: RunningRedis;
  let client: Redis;
  const scriptKeys = [keys.offsets, keys.maxEventTime, keys.counters, keys.meta, keys.pause];
  const catalog = "the-catalog-this-test-computes";
  const dayKey = "os:d:2026-12-03:gmv:all";
  const run = (next: number) =>
    script.run(client, scriptKeys, [effect(dayKey), JSON.stringify([[TP, ""]]), TP, next, "", 3600, catalog]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "oom-test-"));
    redis = await startRedis({ linkId: "oom", dataDir: join(dir, "redis") });
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    await client.hset(keys.meta, "catalog", catalog);
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("applies a batch while there is memory", async () => {
    assert.deepEqual(await run(1), [1]);
    assert.equal(await client.hget(keys.offsets, TP), "1");
    await client.del(keys.offsets, dayKey, keys.counters);
  });

  it("is refused whole, before any write, once used memory is over maxmemory", async () => {
    await client.set("filler", "x".repeat(4 * 1024 * 1024));
    await client.config("SET", "maxmemory-policy", "noeviction");
    await client.config("SET", "maxmemory", "1mb");
    try {
      await assert.rejects(run(1), (err: Error) => {
        assert.match(err.message, /^OOM /);
        // An unflagged script gets as far as its first write and fails there ("script: <sha>, on
        // @user_script:<line>"); a flagged one is refused before it starts.
        assert.doesNotMatch(err.message, /script:/, "refused before the script ran");
        return true;
      });
      assert.equal(await client.hget(keys.offsets, TP), null);
      assert.equal(await client.exists(dayKey, keys.counters), 0);
    } finally {
      await client.config("SET", "maxmemory", "0");
    }
    assert.deepEqual(await run(1), [1], "applied once memory is back");
    assert.equal(await client.zscore(dayKey, "all"), "100");
  });
});
