// Scrub benchmark: what the comparator's scrub (comparator/scrub.ts) costs a link's Redis, and whether it moves
// the processor's throughput. Two links are fed the same generator stream, spread over hours of event time so
// that hundreds of minutes close; the processor catches up on the first with no scrub and on the second with a
// scrub running at the default pace, in the same run. Then, the processor idle, the scrub's Redis CPU per closed
// minute is measured over whole passes (INFO cpu and commandstats). Not a test: it prints figures.
//
//   npx tsx loadtest/scrubCost.ts [--events 300000] [--hours 6] [--partitions 6] [--passes 3]

import { parseArgs } from "node:util";
import { BusinessClock } from "../common/businessTime.ts";
import { loadConfig } from "../common/config.ts";
import { comparatorSettings } from "../comparator/config.ts";
import { Scrubber, type ScrubMismatch } from "../comparator/scrub.ts";
import { runGenerator } from "../devstack/generator/run.ts";
import { prepareDimensions } from "../harness/feed.ts";
import { startTestLink, stopProcessor, type TestLink } from "../harness/links.ts";
import { processorRate, redisCommandStats, redisCpuSeconds, status } from "./catchUp.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "300000" },
    hours: { type: "string", default: "6" },
    partitions: { type: "string", default: "6" },
    passes: { type: "string", default: "3" },
  },
});
const EVENTS = Number(args.events);
const HOURS = Number(args.hours);
const PARTITIONS = Number(args.partitions);
const defaults = loadConfig(comparatorSettings, {});
const clock = new BusinessClock(defaults.timeZone);

/** A scrub of one link at the default pace, in this process, until stopped. */
function scrubbing(link: TestLink, found: ScrubMismatch[]) {
  const scrubber = new Scrubber(
    link.redis.url,
    clock,
    { minutesPerRound: defaults.scrubMinutesPerRound, timeoutMs: 5_000 },
    (m) => found.push(m),
  );
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      await scrubber.round();
      await new Promise((r) => setTimeout(r, Math.max(0, defaults.scrubIntervalMs - (Date.now() - started))));
    }
  })();
  return {
    scrubber,
    async stop() {
      running = false;
      await loop;
    },
  };
}

const [plain, scrubbed] = await Promise.all([
  startTestLink("plain", PARTITIONS),
  startTestLink("scrubbed", PARTITIONS),
]);
try {
  const dims = await prepareDimensions([plain, scrubbed]);
  status(`producing ${EVENTS.toLocaleString()} events over ${HOURS} h of event time into both links`);
  const produced = await runGenerator({
    links: [plain, scrubbed].map((l) => ({ id: l.id, brokers: [l.kafka.bootstrap] })),
    partitions: PARTITIONS,
    seed: "scrub-bench",
    startTime: Date.now() - (HOURS + 1) * 3_600_000,
    rate: 0,
    unpacedEventRate: EVENTS / (HOURS * 3_600),
    count: EVENTS,
    peakMultiplier: 1,
    progress: false,
  });
  const total = produced.links[0]?.sent ?? EVENTS;

  const without = await processorRate(plain, dims.categoryIndustry, total, null);
  await stopProcessor(without.processor);
  const found: ScrubMismatch[] = [];
  const scrub = scrubbing(scrubbed, found);
  const withScrub = await processorRate(scrubbed, dims.categoryIndustry, total, null);
  const roundsDuringCatchUp = scrub.scrubber.progress.rounds;
  await scrub.stop();
  await stopProcessor(withScrub.processor);

  // The processor idle: whatever Redis does now is the scrub's.
  const measured = scrubbing(scrubbed, found);
  const cycles = measured.scrubber.progress.cycles;
  const cpuBefore = await redisCpuSeconds(scrubbed);
  const commandsBefore = await redisCommandStats(scrubbed);
  const minutesBefore = measured.scrubber.progress.minutesChecked;
  const roundsBefore = measured.scrubber.progress.rounds;
  const passes = Number(args.passes);
  while (measured.scrubber.progress.cycles < cycles + passes + 1) {
    status(`scrub passes: ${measured.scrubber.progress.cycles - cycles} of ${passes + 1}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await measured.stop();
  const cpu = (await redisCpuSeconds(scrubbed)) - cpuBefore;
  const commandsAfter = await redisCommandStats(scrubbed);
  const minutes = measured.scrubber.progress.minutesChecked - minutesBefore;
  const rounds = measured.scrubber.progress.rounds - roundsBefore;
  const closed = Number((await scrubbed.client.get("os:closed")) ?? 0);
  status("");

  console.log(
    `\nscrub benchmark: ${total.toLocaleString()} events over ${HOURS} h of event time, ${PARTITIONS} partitions per topic; ` +
      `scrub at the defaults (SCRUB_INTERVAL ${defaults.scrubIntervalMs} ms, SCRUB_MINUTES_PER_ROUND ${defaults.scrubMinutesPerRound})`,
  );
  console.log(
    `closed through ${new Date(closed).toISOString()}; mismatches found on the sound link: ${found.length}` +
      (found.length > 0 ? ` (first: ${JSON.stringify(found[0])})` : ""),
  );
  console.log("| processor catch-up | events/s | CPU µs/event |");
  console.log("|---|---|---|");
  console.log(`| no scrub | ${without.rate.toFixed(0)} | ${without.cpuMicrosPerEvent.toFixed(1)} |`);
  console.log(
    `| scrub running (${roundsDuringCatchUp} rounds) | ${withScrub.rate.toFixed(0)} | ${withScrub.cpuMicrosPerEvent.toFixed(1)} |`,
  );
  console.log(
    `ratio with/without scrub: ${(withScrub.rate / without.rate).toFixed(3)} in events/s ` +
      `(goal >= 0.95), ${(withScrub.cpuMicrosPerEvent / without.cpuMicrosPerEvent).toFixed(3)} in processor CPU per event`,
  );
  console.log(
    `\nscrub alone: ${rounds} rounds, ${minutes.toLocaleString()} closed minutes re-derived, Redis CPU ${(cpu * 1000).toFixed(1)} ms: ` +
      `${((cpu * 1e6) / minutes).toFixed(1)} µs per closed minute (day checks included), ${((cpu * 1000) / rounds).toFixed(2)} ms per round`,
  );
  console.log("time inside Redis commands during those passes (INFO commandstats):");
  for (const [name, a] of commandsAfter) {
    const b = commandsBefore.get(name) ?? { calls: 0, usec: 0 };
    if (a.calls > b.calls)
      console.log(
        `  ${name.padEnd(10)} ${String(a.calls - b.calls).padStart(7)} calls ${String(a.usec - b.usec).padStart(9)} µs`,
      );
  }
} finally {
  await Promise.all([plain.stop(), scrubbed.stop()]);
}
