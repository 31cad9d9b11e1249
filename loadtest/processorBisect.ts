// Processor CPU per event of several releases on the same input, in the same run: the way to find which commit
// made the processor dearer on a shared machine, where absolute timings move 30 % between runs. Not a test.
//
//   git worktree add /tmp/p6fe4478 6fe4478 && ln -s /work/main/node_modules /tmp/p6fe4478/node_modules
//   npx tsx loadtest/processorBisect.ts [--events 150000] [--warmup 40000] [--profile] /tmp/p6fe4478 .
//
// Each checkout named gets a link of its own (its own Kafka and Redis: the key layout differs between
// releases), the generator writes the same events into every link (no refunds: older releases have no such
// topic), then every checkout's own processor/main.ts catches its link up, all at the same time. Printed per
// checkout: processor CPU µs per applied event from the first batch (cold) and after the warm-up (steady), and
// Redis commands per event. --profile writes a V8 CPU profile per processor under $TMPDIR/processor-bisect-<name>/.

import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { keys } from "../common/keys.ts";
import { runGenerator } from "../devstack/generator/run.ts";
import { prepareDimensions } from "../harness/feed.ts";
import {
  type ProcessorChild,
  spawnProcessor,
  startTestLink,
  stopProcessor,
  type TestLink,
} from "../harness/links.ts";
import { redisCommandStats, status } from "./catchUp.ts";
import { cpuMicros } from "./processCpu.ts";

const { values: args, positionals: checkouts } = parseArgs({
  allowPositionals: true,
  options: {
    events: { type: "string", default: "150000" },
    warmup: { type: "string", default: "40000" },
    profile: { type: "boolean", default: false },
  },
});
const EVENTS = Number(args.events);
const WARMUP = Number(args.warmup);
const PARTITIONS = 12;
/** The topics every release since 6fe4478 consumes: progress is counted on these alone. */
const COMMON_TOPICS = ["trade.orders", "trade.payments", "ads.events"];

if (checkouts.length === 0)
  throw new Error("name at least one checkout (a directory with processor/main.ts)");

/** Records applied on the common topics (a stored offset is also the count processed, as logs start at 0). */
async function applied(link: TestLink): Promise<number> {
  let sum = 0;
  for (const [field, offset] of Object.entries(await link.client.hgetall(keys.offsets)))
    if (COMMON_TOPICS.includes(field.slice(0, field.lastIndexOf(":")))) sum += Number(offset);
  return sum;
}

async function produced(link: TestLink): Promise<number> {
  const admin = link.kafkaClient.admin();
  await admin.connect();
  try {
    let sum = 0;
    for (const topic of COMMON_TOPICS)
      for (const p of await admin.fetchTopicOffsets(topic)) sum += Number(p.high);
    return sum;
  } finally {
    await admin.disconnect();
  }
}

/** A checkout's own processor on `link`, with what every release since 6fe4478 reads from its environment. */
function spawnRelease(root: string, link: TestLink, categoryFile: string): ProcessorChild {
  const profileDir = join(tmpdir(), `processor-bisect-${basename(root)}`);
  if (args.profile) mkdirSync(profileDir, { recursive: true });
  const profile = args.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  return spawnProcessor(link, { LOG_LEVEL: "error", DIM_CATEGORY_FILE: categoryFile }, profile, root);
}

interface Mark {
  cpu: number;
  applied: number;
}

const roots = checkouts.map((c) => resolve(c));
const links: TestLink[] = [];
try {
  for (let i = 0; i < roots.length; i++) links.push(await startTestLink(`bisect${i}`, PARTITIONS));
  const dims = await prepareDimensions(links);
  status(`producing ${EVENTS.toLocaleString()} events into ${links.length} links`);
  await runGenerator({
    links: links.map((l) => ({ id: l.id, brokers: [l.kafka.bootstrap] })),
    partitions: PARTITIONS,
    seed: "bench",
    startTime: Date.now() - 3_600_000,
    rate: 0,
    count: EVENTS,
    peakMultiplier: 1,
    refundFraction: 0,
    progress: false,
  });
  const targets = await Promise.all(links.map(produced));
  const children = roots.map((root, i) => spawnRelease(root, links[i] as TestLink, dims.categoryIndustry));
  const mark = async (i: number): Promise<Mark> => ({
    cpu: await cpuMicros(children[i]?.child.pid as number),
    applied: await applied(links[i] as TestLink),
  });
  const first: (Mark | null)[] = roots.map(() => null);
  const warm: (Mark | null)[] = roots.map(() => null);
  const last: (Mark | null)[] = roots.map(() => null);
  const deadline = Date.now() + 600_000;
  while (last.includes(null)) {
    if (Date.now() > deadline) throw new Error("the processors did not catch up within 10 minutes");
    for (let i = 0; i < roots.length; i++) {
      if (last[i]) continue;
      const p = children[i] as ProcessorChild;
      if (p.child.exitCode !== null) throw new Error(`${roots[i]}'s processor exited:\n${p.output()}`);
      const m = await mark(i);
      if (!first[i] && m.applied > 0) first[i] = m;
      if (!warm[i] && m.applied >= WARMUP) warm[i] = m;
      if (m.applied >= (targets[i] as number)) last[i] = m;
    }
    status(`applied ${(await Promise.all(links.map(applied))).join(", ")} of ${targets.join(", ")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  status("");
  const commands = await Promise.all(links.map(redisCommandStats));
  await Promise.all(children.map((p) => stopProcessor(p)));
  const perEvent = (a: Mark, b: Mark) => ((b.cpu - a.cpu) / (b.applied - a.applied)).toFixed(2);
  console.log(
    `\nprocessor CPU per event, ${EVENTS.toLocaleString()} events, steady after ${WARMUP.toLocaleString()}`,
  );
  console.log("| checkout | cold µs/event | steady µs/event | Redis commands/event |");
  console.log("|---|---|---|---|");
  roots.forEach((root, i) => {
    const [f, w, l] = [first[i] as Mark, warm[i] as Mark, last[i] as Mark];
    let calls = 0;
    for (const c of commands[i]?.values() ?? []) calls += c.calls;
    console.log(`| ${root} | ${perEvent(f, l)} | ${perEvent(w, l)} | ${(calls / l.applied).toFixed(2)} |`);
  });
} finally {
  await Promise.all(links.map((l) => l.stop()));
}
