import { PassThrough } from "node:stream";
import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FromSchema } from "json-schema-to-ts";
import { ApiError, errorResponses } from "../../common/httpErrors.ts";
import type { Logger } from "../../common/logger.ts";
import type { MetricReader } from "../metricReader.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { checkDim, metricView, seriesQuery, seriesWeight, topQuery, valueQuery } from "../params.ts";
import { apiKeySecurity, type DataRouteOptions, setServedHeaders } from "./served.ts";

// Server-Sent Events for big screens. Each client's subscription is read every STREAM_INTERVAL through the
// same cache as every other read (so a thousand screens cost the links one read per key per cache TTL), and
// only what changed since the client's previous event is sent. The first event (`snapshot`) carries
// everything; later ones (`update`) the changed parts plus the link and routing version in force.

const MAX_METRICS = 20;
const MAX_LISTS = 5;
const PING_EVERY_MS = 15_000;
/** A client this far behind in reading its stream is dropped rather than buffered for. */
const MAX_BUFFERED_BYTES = 1 << 20;

export interface StreamOptions extends DataRouteOptions {
  intervalMs: number;
  maxClients: number;
  maxClientsPerApp: number;
  metrics: GatewayMetrics;
  log: Logger;
}

interface Subscription {
  metrics: string[];
  top: { metric: string; dim: string }[];
  series: string[];
  n: number;
}

const streamQuerySchema = {
  type: "object",
  properties: {
    metrics: {
      type: "string",
      pattern: "^[a-z0-9_]+(,[a-z0-9_]+)*$",
      maxLength: 1000,
      description: "Day-to-date values to stream, e.g. gmv,paid_orders,buyers",
    },
    top: {
      type: "string",
      pattern: "^[a-z0-9_]+:[a-z0-9_]+(,[a-z0-9_]+:[a-z0-9_]+)*$",
      maxLength: 500,
      description: "Top lists, metric:dim, e.g. gmv:seller",
    },
    series: {
      type: "string",
      pattern: "^[a-z0-9_]+(,[a-z0-9_]+)*$",
      maxLength: 500,
      description: "Minute series of the last hour, e.g. gmv",
    },
    n: {
      type: "integer",
      minimum: 1,
      maximum: 50,
      description: "Entries of each top list (default 10)",
    },
  },
  additionalProperties: false,
} as const;

type StreamQuery = FromSchema<typeof streamQuerySchema>;

const list = (raw: string | undefined) => (raw ? [...new Set(raw.split(","))] : []);

function subscription(q: StreamQuery): Subscription {
  const metrics = list(q.metrics);
  const top = list(q.top).map((pair) => {
    const [metric = "", dim = ""] = pair.split(":");
    return { metric, dim };
  });
  const series = list(q.series);
  if (metrics.length + top.length + series.length === 0) {
    throw new ApiError("invalid_request", "metrics, top or series must name something to stream", "metrics");
  }
  if (metrics.length > MAX_METRICS)
    throw new ApiError("invalid_request", `at most ${MAX_METRICS} metrics`, "metrics");
  if (top.length > MAX_LISTS) throw new ApiError("invalid_request", `at most ${MAX_LISTS} top lists`, "top");
  if (series.length > MAX_LISTS)
    throw new ApiError("invalid_request", `at most ${MAX_LISTS} series`, "series");
  for (const m of metrics) metricView(m, "metrics");
  for (const t of top) {
    const view = metricView(t.metric, "top");
    if (view.derived)
      throw new ApiError(
        "invalid_request",
        `${view.name} is derived at read time and has no top list`,
        "top",
      );
    checkDim(view, t.dim, "day", "top");
  }
  for (const s of series) checkDim(metricView(s, "series"), "all", "minute", "series");
  return { metrics, top, series, n: q.n ?? 10 };
}

/** Kind -> name -> content: values.gmv, top["gmv:seller"], series.gmv. */
type Parts = Record<"values" | "top" | "series", Record<string, unknown>>;

interface Snapshot {
  meta: {
    link: string;
    routingVersion: number;
    asOf: string | null;
    date: string;
    stale: boolean;
    staleSince: string | null;
  };
  parts: Parts;
}

async function readSnapshot(
  app: string,
  reader: MetricReader,
  sub: Subscription,
  opts: DataRouteOptions,
): Promise<Snapshot> {
  const now = opts.now();
  const [values, tops, series] = await Promise.all([
    sub.metrics.length > 0
      ? reader.values(
          app,
          sub.metrics.map((metric) => valueQuery({ metric }, opts.clock, now, opts.historyDays)),
        )
      : undefined,
    Promise.all(
      sub.top.map((t) => reader.top(app, topQuery({ ...t, n: sub.n }, opts.clock, now, opts.historyDays))),
    ),
    Promise.all(
      sub.series.map((metric) => {
        const q = seriesQuery({ metric }, now);
        return reader.series(app, q, seriesWeight(q));
      }),
    ),
  ]);
  const answers = [values, ...tops, ...series].filter((a) => a !== undefined);
  const first = answers[0] as NonNullable<(typeof answers)[number]>;
  const parts: Parts = { values: {}, top: {}, series: {} };
  for (const v of values?.data ?? []) parts.values[v.metric] = { value: v.value, stale: v.stale };
  tops.forEach((t, i) => {
    parts.top[`${sub.top[i]?.metric}:${sub.top[i]?.dim}`] = { entries: t.data.entries, stale: t.stale };
  });
  series.forEach((s, i) => {
    parts.series[sub.series[i] as string] = { points: s.data.points, stale: s.stale };
  });
  return {
    meta: {
      link: first.link,
      routingVersion: first.routingVersion,
      asOf: first.asOf,
      date: opts.clock.dateOf(now),
      stale: answers.some((a) => a.stale),
      staleSince: first.staleSince,
    },
    parts,
  };
}

/** The parts that differ from what this client was last sent (remembering what is sent now). */
function changes(sent: Map<string, string>, snap: Snapshot): Partial<Parts> | null {
  const out: Partial<Parts> = {};
  let any = false;
  for (const [kind, entries] of Object.entries(snap.parts)) {
    for (const [name, content] of Object.entries(entries)) {
      const id = `${kind}/${name}`;
      const json = JSON.stringify(content);
      if (sent.get(id) === json) continue;
      sent.set(id, json);
      const changedOfKind = out[kind as keyof Parts] ?? {};
      changedOfKind[name] = content;
      out[kind as keyof Parts] = changedOfKind;
      any = true;
    }
  }
  const meta = JSON.stringify(snap.meta);
  if (sent.get("meta") !== meta) {
    sent.set("meta", meta);
    any = true;
  }
  return any ? out : null;
}

function sseEvent(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Stream slots, in total and per application. A slot is taken before anything is awaited and given back
 * exactly once, so a burst of requests cannot pass the caps between a check and a count.
 */
class StreamSlots {
  private total = 0;
  private readonly perApp = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly maxPerApp: number,
  ) {}

  /** Takes a slot for `app` and returns its release, or throws the 503 that says which cap is full. */
  take(app: string): () => void {
    const ofApp = this.perApp.get(app) ?? 0;
    if (this.total >= this.max) throw new ApiError("too_many_streams", "too many open streams", undefined, 5);
    if (ofApp >= this.maxPerApp)
      throw new ApiError(
        "too_many_streams",
        `application ${app} has ${ofApp} streams open, its most`,
        undefined,
        5,
      );
    this.total += 1;
    this.perApp.set(app, ofApp + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perApp.get(app) ?? 1) - 1;
      if (left === 0) this.perApp.delete(app);
      else this.perApp.set(app, left);
    };
  }
}

export const streamRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: StreamOptions }> = async (
  app,
  opts,
) => {
  const open = new Set<PassThrough>();
  const slots = new StreamSlots(opts.maxClients, opts.maxClientsPerApp);
  app.addHook("preClose", async () => {
    for (const stream of open) stream.end();
  });

  app.get(
    "/stream",
    {
      schema: {
        summary: "Server-Sent Events with the changed values of a subscription, for big screens",
        description:
          "Events: `snapshot` (everything, first, plus the business timeZone), `update` (changed parts only), `unavailable` (no link " +
          "answered and no last-known value). Data: {link, routingVersion, asOf, date, stale, values?, top?, " +
          "series?}; values.<metric> = {value, stale}, top.<metric>:<dim> = {entries, stale}, " +
          "series.<metric> = {points: [{t, minute, value}], stale} (last 60 minutes).",
        tags: ["stream"],
        security: apiKeySecurity,
        querystring: streamQuerySchema,
        response: {
          // No schema for the events themselves: the description above says what each carries.
          200: { description: "The event stream", content: { "text/event-stream": { schema: {} } } },
          ...errorResponses,
        },
      } as const,
    },
    async (req, reply) => {
      const sub = subscription(req.query);
      req.metricNames = [...sub.metrics, ...sub.top.map((t) => t.metric), ...sub.series].join(",");
      const release = slots.take(req.app);
      let first: Snapshot;
      try {
        first = await readSnapshot(req.app, opts.reader, sub, opts);
      } catch (err) {
        release();
        throw err;
      }

      const stream = new PassThrough();
      const sent = new Map<string, string>();
      let id = 0;
      let lastWrite = Date.now();
      let busy = false;
      const write = (chunk: string) => {
        if (stream.writableEnded) return;
        lastWrite = Date.now();
        stream.write(chunk);
        // A reader this far behind is gone or hostile: end() would keep its buffer and slot until TCP gives
        // up; destroying the socket frees both now.
        if (stream.writableLength > MAX_BUFFERED_BYTES) {
          opts.metrics.streamsDropped.inc();
          reply.raw.destroy();
          stream.destroy();
        }
      };
      const tick = async () => {
        if (busy) return;
        busy = true;
        try {
          const snap = await readSnapshot(req.app, opts.reader, sub, opts);
          const changed = changes(sent, snap);
          if (changed) write(sseEvent(++id, "update", { ...snap.meta, ...changed }));
          else if (Date.now() - lastWrite >= PING_EVERY_MS) write(": ping\n\n");
        } catch (err) {
          if (!(err instanceof ApiError)) opts.log.error({ err }, "stream read failed");
          sent.delete("meta");
          write(sseEvent(++id, "unavailable", { message: (err as Error).message }));
        } finally {
          busy = false;
        }
      };
      const timer = setInterval(() => void tick(), opts.intervalMs);
      open.add(stream);
      opts.metrics.streamClients.set(open.size);
      reply.raw.on("close", () => stream.destroy());
      stream.on("close", () => {
        clearInterval(timer);
        release();
        open.delete(stream);
        opts.metrics.streamClients.set(open.size);
      });

      setServedHeaders(reply, first.meta);
      reply
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache, no-transform")
        .header("x-accel-buffering", "no");
      changes(sent, first);
      const snapshot = { ...first.meta, timeZone: opts.clock.timeZone, ...first.parts };
      write(`retry: 2000\n\n${sseEvent(++id, "snapshot", snapshot)}`);
      return reply.send(stream);
    },
  );
};
