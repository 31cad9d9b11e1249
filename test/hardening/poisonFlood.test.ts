import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { keys } from "../../common/keys.ts";
import { TOPICS } from "../../common/topics.ts";
import { freePort } from "../../devstack/supervisor/freePort.ts";
import { feed, prepareDimensions } from "../../harness/feed.ts";
import {
  caughtUp,
  type ProcessorChild,
  processorMetric,
  spawnProcessor,
  startTestLink,
  stopProcessor,
  type TestLink,
  waitFor,
} from "../../harness/links.ts";
import { admin } from "../kafka/helpers.ts";
import { differencesFromRecompute } from "../support/recompute.ts";

// Poison input is the common-mode failure: every link gets the same records, so one that stalls a processor
// stalls them all. Two links are fed the same stream with 5 % of the worst records the generator makes
// (huge, binary, deeply nested, wrong types, prototype keys, extreme numbers, empty, 64 KiB keys, 20k
// fields) among the malformed and good ones; on the second link the dead-letter topic refuses every send
// for a while (missing topic, then a message over its size limit). Both links process everything, no
// processor exits, each equals the offline recompute of the input, every bad record is counted, and the
// letters reach the dead-letter topic once it accepts them.

const PARTITIONS = 4;
const PRODUCE = 0;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const MESSAGE_TOO_LARGE = 10;

describe("hardening: a poison flood on every link", () => {
  const links: TestLink[] = [];
  const running: ProcessorChild[] = [];
  after(async () => {
    await Promise.all(running.map((p) => stopProcessor(p, "SIGKILL")));
    await Promise.all(links.map((l) => l.stop()));
  });

  it("keeps every link processing, exact and counted, with the dead-letter topic refusing on one", async () => {
    links.push(...(await Promise.all(["pa", "pb"].map((id) => startTestLink(id, PARTITIONS)))));
    const [healthy, refusing] = links as [TestLink, TestLink];
    const dims = await prepareDimensions(links);
    const { result, truthFile } = await feed(links, {
      count: 4_000,
      partitions: PARTITIONS,
      poisonFraction: 0.05,
    });
    assert.ok(result.counts.poison > 150, `poison records: ${result.counts.poison}`);
    const bad = result.counts.poison + result.counts.malformed;

    // The refusing link's dead-letter topic: missing, then over its size limit, for the first 40 sends.
    const pushed = await admin(refusing.kafka.adminUrl, "POST", "/request-errors", {
      apiKey: PRODUCE,
      errors: [UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE],
      count: 20,
    });
    assert.equal(pushed.status, 200);

    const ports = await Promise.all(links.map(() => freePort()));
    for (const [i, link] of links.entries())
      running.push(
        spawnProcessor(link, { DIM_CATEGORY_FILE: dims.categoryIndustry, PROCESSOR_PORT: String(ports[i]) }),
      );
    for (const link of links)
      await waitFor(`link ${link.id} to process everything`, () => caughtUp(link), 120_000);
    for (const p of running) assert.equal(p.child.exitCode, null, `no processor exited:\n${p.output()}`);

    for (const link of links) {
      assert.equal(await differencesFromRecompute(link, dims.categoryIndustry, { truth: truthFile }), "");
      const counters = await link.client.hgetall(keys.counters);
      const deadLettered = Object.entries(counters)
        .filter(([name]) => name.startsWith("dead_letter:"))
        .reduce((sum, [, n]) => sum + Number(n), 0);
      assert.equal(
        deadLettered,
        bad,
        `link ${link.id}: every bad record counted once (${JSON.stringify(counters)})`,
      );
    }

    const [healthyPort, refusingPort] = ports as [number, number];
    assert.ok(
      (await processorMetric(refusingPort, "oneservice_processor_dead_letter_send_failures_total")) > 0,
    );
    assert.equal(
      await processorMetric(healthyPort, "oneservice_processor_dead_letter_send_failures_total"),
      0,
    );
    const letters = async (link: TestLink) => {
      const kafkaAdmin = link.kafkaClient.admin();
      await kafkaAdmin.connect();
      try {
        const offsets = await kafkaAdmin.fetchTopicOffsets(TOPICS.deadLetter);
        return offsets.reduce((n, p) => n + Number(p.high), 0);
      } finally {
        await kafkaAdmin.disconnect();
      }
    };
    for (const [link, port] of [
      [healthy, healthyPort],
      [refusing, refusingPort],
    ] as const) {
      await waitFor(`link ${link.id}'s letters to reach its dead-letter topic`, async () => {
        const dropped = await processorMetric(port, "oneservice_processor_dead_letters_dropped_total");
        return (await letters(link)) + dropped >= bad;
      });
      assert.equal(await processorMetric(port, "oneservice_processor_dead_letters_dropped_total"), 0);
      assert.equal(await letters(link), bad, `link ${link.id}: one letter per bad record`);
    }
  });
});
