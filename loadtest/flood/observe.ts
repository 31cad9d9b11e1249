import { readFile } from "node:fs/promises";
import type { Admin } from "kafkajs";
import { readProgress } from "../../common/linkReader.ts";
import { INPUT_TOPICS } from "../../common/topics.ts";
import { appliedRecords, type TestLink } from "../../harness/links.ts";

// Where a flood stands: records in the link's Kafka, records its processors applied (the offsets stored in
// Redis with the values), the watermark, and the processors' memory.

export interface FloodSample {
  t: number;
  produced: number;
  applied: number;
  /** Lowest per-partition event time applied (epoch ms; 0 = none). */
  watermark: number;
  /** Resident memory of the processors together, MiB. */
  rssMiB: number;
}

/** Records the link's Kafka holds; throws when a partition lost its oldest records to retention. */
export async function produced(admin: Admin): Promise<number> {
  let total = 0;
  for (const topic of INPUT_TOPICS) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      if (Number(p.low) > 0)
        throw new Error(
          `${topic}:${p.partition} dropped records (log start ${p.low}): the flood outgrew Kafka's retention`,
        );
      total += Number(p.high);
    }
  }
  return total;
}

/** A /proc/<pid>/status field in MiB (VmRSS now, VmHWM the peak so far); 0 once the process is gone. */
export async function memoryMiB(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

export async function sample(link: TestLink, admin: Admin, pids: readonly number[]): Promise<FloodSample> {
  const [p, a, progress, rss] = await Promise.all([
    produced(admin),
    appliedRecords(link),
    readProgress(link.client),
    Promise.all(pids.map((pid) => memoryMiB(pid, "VmRSS"))),
  ]);
  return {
    t: Date.now(),
    produced: p,
    applied: a,
    watermark: progress.watermark,
    rssMiB: rss.reduce((x, y) => x + y, 0),
  };
}
