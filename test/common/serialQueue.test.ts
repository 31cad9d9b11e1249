import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KeyedSerialQueue, SerialQueue } from "../../common/serialQueue.ts";

describe("serial queues", () => {
  it("run tasks one at a time in order, and a failed task does not stop the next", async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      async () => {
        log.push(`${name} start`);
        await sleep(ms);
        log.push(`${name} end`);
        if (fail) throw new Error(name);
        return name;
      };
    const first = queue.run(task("first", 20));
    const second = queue.run(task("second", 5, true));
    const third = queue.run(task("third", 1));
    assert.equal(await first, "first");
    await assert.rejects(second, /second/);
    assert.equal(await third, "third");
    await queue.idle();
    assert.deepEqual(log, [
      "first start",
      "first end",
      "second start",
      "second end",
      "third start",
      "third end",
    ]);
  });

  it("keep each key's tasks in order while other keys' tasks run alongside", async () => {
    const queue = new KeyedSerialQueue<string>();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`${name} start`);
      await sleep(ms);
      log.push(`${name} end`);
    };
    const thrown = queue.run("a", () => Promise.reject(new Error("a0")));
    const a1 = queue.run("a", task("a1", 20));
    const b1 = queue.run("b", task("b1", 1));
    await assert.rejects(thrown, /a0/);
    await Promise.all([a1, b1]);
    assert.deepEqual(log, ["b1 start", "a1 start", "b1 end", "a1 end"]);
  });
});
