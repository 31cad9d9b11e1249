import { pino } from "pino";
import { runGenerator } from "../devstack/generator/run.ts";
import { type EmbeddedKafka, startEmbeddedKafka } from "../devstack/kafka/launcher.ts";

// How fast the traffic generator fills the links' Kafkas, unpaced: events/s and payload MB/s into one link
// (with one and with two producer threads) and into three, each an embedded Kafka of its own. The generator
// must not be what limits a pipeline test. The CPU per record is the number to compare across machines: the
// rates depend on how many free cores there are (patched kafkajs costs about 6 µs of one core per record and
// link; the model about 8 µs per record).
//
//   npx tsx loadtest/generatorRate.ts [records per scenario, default 1000000]

const records = Number(process.argv[2] ?? 1_000_000);
if (!Number.isSafeInteger(records) || records <= 0) throw new Error(`not a record count: ${process.argv[2]}`);
const partitions = 8;

const kafkas: EmbeddedKafka[] = [];
try {
  for (const linkId of ["a", "b", "c"]) kafkas.push(await startEmbeddedKafka({ linkId, partitions }));
  const scenarios = [
    { links: 1, linkThreads: 1 },
    { links: 1, linkThreads: 2 },
    { links: 3, linkThreads: 1 },
  ];
  for (const { links, linkThreads } of scenarios) {
    const cpuBefore = process.cpuUsage();
    const result = await runGenerator({
      links: kafkas.slice(0, links).map((k) => ({ id: k.linkId, brokers: [k.bootstrap] })),
      partitions,
      rate: 0,
      count: records,
      startTime: Date.parse("2026-11-10T15:58:00Z"),
      dimsDir: null,
      linkThreads,
      progress: false,
      logger: pino({ level: "warn" }),
    });
    const cpu = process.cpuUsage(cpuBefore);
    const seconds = result.elapsedMs / 1000;
    const lost = result.links.reduce((n, l) => n + l.dropped, 0);
    process.stdout.write(
      `${links} link${links > 1 ? "s" : ""}, ${linkThreads} producer thread${linkThreads > 1 ? "s" : ""} each: ` +
        `${records} records in ${seconds.toFixed(1)} s = ${Math.round(records / seconds)} events/s, ` +
        `${(result.bytes / 1e6 / seconds).toFixed(1)} MB/s of payload into each link; ` +
        `generator CPU ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)}%, ` +
        `${((cpu.user + cpu.system) / records).toFixed(1)} µs per record` +
        `${lost > 0 ? `; ${lost} records DROPPED` : ""}\n`,
    );
  }
} finally {
  await Promise.all(kafkas.map((k) => k.stop()));
}
