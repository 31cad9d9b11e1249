import { Redis } from "ioredis";
import { keys } from "../../common/keys.ts";
import type { StackFile } from "../../devstack/supervisor/stackFile.ts";
import type { Answer } from "../runner/engine.ts";

// What a drill's chart shows: every link's GMV read straight from its Redis a few times a second, the GMV
// the callers were served (and by which link), and the moments of the drill (fault, detection, switch…).

export interface LinkSample {
  t: number;
  /** Link id -> GMV in cents; null when its Redis did not answer. */
  values: Record<string, number | null>;
}

export interface ServedPoint {
  t: number;
  value: number;
  link: string;
  stale: boolean;
}

export interface TimelineEvent {
  t: number;
  label: string;
}

export interface Timeline {
  links: string[];
  samples: LinkSample[];
  served: ServedPoint[];
  events: TimelineEvent[];
}

const SAMPLE_EVERY_MS = 250;

/** Reads every link's GMV of `date` until stopped. */
export function sampleLinks(stack: StackFile, date: string, into: LinkSample[]): () => void {
  const clients = stack.links.map((l) => {
    const redis = new Redis(l.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: SAMPLE_EVERY_MS,
      retryStrategy: () => SAMPLE_EVERY_MS,
    });
    redis.on("error", () => {});
    return { id: l.id, redis };
  });
  const key = keys.day(date, "gmv", "all");
  const timer = setInterval(async () => {
    const t = Date.now();
    const values = await Promise.all(
      clients.map(({ redis }) =>
        redis.zscore(key, "all").then(
          (v) => (v === null ? 0 : Number(v)),
          () => null,
        ),
      ),
    );
    into.push({ t, values: Object.fromEntries(clients.map((c, i) => [c.id, values[i] ?? null])) });
  }, SAMPLE_EVERY_MS);
  return () => {
    clearInterval(timer);
    for (const c of clients) c.redis.disconnect();
  };
}

/** The GMV of the whole business day in an answer, if it has one. */
export function servedGmv(answer: Answer): ServedPoint | null {
  if (answer.status !== 200 || answer.link === null) return null;
  const body = answer.body as {
    metric?: string;
    dim?: string;
    window?: string;
    value?: number | null;
    stale?: boolean;
    results?: { metric: string; dim: string; window: string; value: number | null; stale: boolean }[];
  };
  const value =
    answer.kind === "value"
      ? body
      : answer.kind === "query"
        ? body.results?.find((r) => r.metric === "gmv" && r.dim === "all")
        : undefined;
  if (value?.metric !== "gmv" || value.dim !== "all" || value.window !== "day") return null;
  if (typeof value.value !== "number") return null;
  return { t: answer.at, value: value.value, link: answer.link, stale: value.stale === true };
}
