import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyReply, FastifyRequest } from "fastify";
import { errorResponses } from "../../common/httpErrors.ts";
import type { AnswerCache } from "../answerCache.ts";
import type { Served, ValueResult } from "../metricReader.ts";
import { paramSchemas, seriesCost, seriesQuery, seriesWeight, topQuery, valueQuery } from "../params.ts";
import {
  answer,
  apiKeySecurity,
  type DataRouteOptions,
  servedProperties,
  setServedHeaders,
} from "./served.ts";

// One value, a top-N list and a minute series of a metric.

const str = { type: "string" } as const;

/** The fields of one value, as /v1/metrics/:metric and each result of /v1/query carry them. */
export const valueProperties = {
  metric: str,
  dim: str,
  key: str,
  window: str,
  date: str,
  minute: str,
  value: {
    type: ["number", "null"],
    description: "Integer units (cents, micros, counts); a ratio for derived metrics",
  },
} as const;

/** The schema of a GET /v1/metrics/:metric… route: its query parameters and the fields it answers. */
function metricSchema<const Q, const A>(summary: string, querystring: Q, answer: A) {
  return {
    summary,
    tags: ["metrics"],
    security: apiKeySecurity,
    params: {
      type: "object",
      properties: { metric: paramSchemas.metric },
      required: ["metric"],
      additionalProperties: false,
    },
    querystring,
    response: { 200: answer, ...errorResponses },
  } as const;
}

/** What every metric route's answer carries besides its own fields (served.ts). */
const servedRequired = ["asOf", "link", "stale", "complete"] as const;

const valueSchema = metricSchema(
  "One value of a metric: business day to date, or one minute",
  {
    type: "object",
    properties: {
      dim: paramSchemas.dim,
      key: paramSchemas.key,
      window: paramSchemas.window,
      date: paramSchemas.date,
      minute: paramSchemas.minute,
    },
    additionalProperties: false,
  },
  {
    type: "object",
    properties: { ...valueProperties, ...servedProperties },
    required: ["metric", "dim", "key", "window", "date", "value", ...servedRequired],
    additionalProperties: false,
  },
);

const topSchema = metricSchema(
  "The largest keys of a dimension by business day to date",
  {
    type: "object",
    properties: {
      dim: { ...paramSchemas.dim, description: "Dimension to rank, e.g. seller" },
      n: { type: "integer", minimum: 1, maximum: 100, description: "How many (default 10)" },
      date: paramSchemas.date,
    },
    required: ["dim"],
    additionalProperties: false,
  },
  {
    type: "object",
    properties: {
      metric: str,
      dim: str,
      date: str,
      n: { type: "integer" },
      entries: {
        type: "array",
        items: {
          type: "object",
          additionalProperties: false,
          properties: { key: str, value: { type: "number" } },
          required: ["key", "value"],
        },
      },
      ...servedProperties,
    },
    required: ["metric", "dim", "date", "n", "entries", ...servedRequired],
    additionalProperties: false,
  },
);

const seriesSchema = metricSchema(
  "Per-minute values of a metric between two instants (default: the last 60 minutes)",
  {
    type: "object",
    properties: {
      dim: paramSchemas.dim,
      key: paramSchemas.key,
      from: { type: "string", format: "date-time", description: "First minute (default: to - 60 min)" },
      to: { type: "string", format: "date-time", description: "Last minute, included (default: now)" },
    },
    additionalProperties: false,
  },
  {
    type: "object",
    properties: {
      metric: str,
      dim: str,
      key: str,
      from: str,
      to: { type: "string", description: "End of the last minute (exclusive)" },
      points: {
        type: "array",
        items: {
          type: "object",
          additionalProperties: false,
          properties: {
            t: { type: "number", description: "Minute start, epoch ms" },
            minute: { type: "string", description: "HHMM in the business time zone" },
            value: { type: "number" },
          },
          required: ["t", "minute", "value"],
        },
      },
      ...servedProperties,
    },
    required: ["metric", "dim", "key", "from", "to", "points", ...servedRequired],
    additionalProperties: false,
  },
);

/** answer() for one value, spelt out rather than spread: this is the hottest route, and the spread showed. */
function valueAnswer(reply: FastifyReply, served: Served<ValueResult>) {
  setServedHeaders(reply, served);
  const { data } = served;
  return {
    metric: data.metric,
    dim: data.dim,
    key: data.key,
    window: data.window,
    date: data.date,
    minute: data.minute,
    value: data.value,
    asOf: served.asOf,
    link: served.link,
    stale: served.stale,
    complete: served.complete,
    staleSince: served.staleSince,
  };
}

/**
 * Sends a value answer serialized here rather than by Fastify, so that its bytes can be kept for the same
 * request of the same application (gateway/answerCache.ts); `at` is the instant the query was made of.
 */
function sendValueAnswer(
  answers: AnswerCache,
  req: FastifyRequest,
  reply: FastifyReply,
  at: number,
  served: Served<ValueResult>,
): void {
  const body = reply.serialize(valueAnswer(reply, served));
  answers.keep(req.app, req.url, at, served, body);
  reply.type("application/json; charset=utf-8").send(body);
}

export const metricRoutes: FastifyPluginAsyncJsonSchemaToTs<{
  Options: DataRouteOptions & { answers: AnswerCache };
}> = async (app, { reader, clock, now, historyDays, charge, expensiveReads, answers }) => {
  app.get("/metrics/:metric", { schema: valueSchema }, (req, reply) => {
    const at = now();
    const q = valueQuery({ ...req.query, metric: req.params.metric }, clock, at, historyDays);
    const hit = reader.cachedValue(req.app, q);
    if (hit === undefined)
      return reader.value(req.app, q).then((served) => sendValueAnswer(answers, req, reply, at, served));
    // A micro-cache hit takes no promise, but is still sent in the check phase as MicroCache.get sends
    // its hits, so that the answers ready in one turn of the event loop are written together.
    setImmediate(sendValueAnswer, answers, req, reply, at, hit);
  });

  app.get("/metrics/:metric/top", { schema: topSchema }, async (req, reply) =>
    answer(
      reply,
      await reader.top(
        req.app,
        topQuery({ ...req.query, metric: req.params.metric }, clock, now(), historyDays),
      ),
    ),
  );

  app.get("/metrics/:metric/series", { schema: seriesSchema }, async (req, reply) => {
    const q = seriesQuery({ ...req.query, metric: req.params.metric }, now());
    // Every request takes one token; a series takes one more per hour of minutes it reads beyond the first.
    charge(req.app, seriesCost(q) - 1);
    const weight = seriesWeight(q);
    if (weight === "cheap") return answer(reply, await reader.series(req.app, q, weight));
    const release = expensiveReads.take(req.app);
    try {
      return answer(reply, await reader.series(req.app, q, weight));
    } finally {
      release();
    }
  });
};
