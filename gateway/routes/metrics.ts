import type { FastifyPluginAsync } from "fastify";
import { errorResponses } from "../httpErrors.ts";
import { paramSchemas, seriesQuery, topQuery, type ValueInput, valueQuery } from "../params.ts";
import { apiKeySecurity, type DataRouteOptions, servedProperties, setServedHeaders } from "./served.ts";

// One value, a top-N list and a minute series of a metric.

const metricParams = {
  type: "object",
  properties: { metric: paramSchemas.metric },
  required: ["metric"],
  additionalProperties: false,
} as const;

const valueProperties = {
  metric: { type: "string" },
  dim: { type: "string" },
  key: { type: "string" },
  window: { type: "string" },
  date: { type: "string" },
  minute: { type: "string" },
  value: {
    type: ["number", "null"],
    description: "Integer units (cents, micros, counts); a ratio for derived metrics",
  },
} as const;

export const valueResponse = {
  type: "object",
  properties: { ...valueProperties, ...servedProperties },
  required: ["metric", "dim", "key", "window", "date", "value", "asOf", "link", "stale"],
} as const;

export const metricRoutes: FastifyPluginAsync<DataRouteOptions> = async (app, { reader, clock, now }) => {
  app.get<{ Params: { metric: string }; Querystring: Omit<ValueInput, "metric"> }>(
    "/metrics/:metric",
    {
      schema: {
        summary: "One value of a metric: business day to date, or one minute",
        tags: ["metrics"],
        security: apiKeySecurity,
        params: metricParams,
        querystring: {
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
        response: { 200: valueResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const served = await reader.value(
        valueQuery({ ...req.query, metric: req.params.metric }, clock, now()),
      );
      setServedHeaders(reply, served);
      return { ...served.data, asOf: served.asOf, link: served.link, stale: served.stale };
    },
  );

  app.get<{ Params: { metric: string }; Querystring: { dim: string; n?: number; date?: string } }>(
    "/metrics/:metric/top",
    {
      schema: {
        summary: "The largest keys of a dimension by business day to date",
        tags: ["metrics"],
        security: apiKeySecurity,
        params: metricParams,
        querystring: {
          type: "object",
          properties: {
            dim: { ...paramSchemas.dim, description: "Dimension to rank, e.g. seller" },
            n: { type: "integer", minimum: 1, maximum: 100, description: "How many (default 10)" },
            date: paramSchemas.date,
          },
          required: ["dim"],
          additionalProperties: false,
        },
        response: {
          200: {
            type: "object",
            properties: {
              metric: { type: "string" },
              dim: { type: "string" },
              date: { type: "string" },
              n: { type: "integer" },
              entries: {
                type: "array",
                items: {
                  type: "object",
                  properties: { key: { type: "string" }, value: { type: "number" } },
                  required: ["key", "value"],
                },
              },
              ...servedProperties,
            },
            required: ["metric", "dim", "date", "n", "entries", "asOf", "link", "stale"],
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const served = await reader.top(topQuery({ ...req.query, metric: req.params.metric }, clock, now()));
      setServedHeaders(reply, served);
      return { ...served.data, asOf: served.asOf, link: served.link, stale: served.stale };
    },
  );

  app.get<{
    Params: { metric: string };
    Querystring: { dim?: string; key?: string; from?: string; to?: string };
  }>(
    "/metrics/:metric/series",
    {
      schema: {
        summary: "Per-minute values of a metric between two instants (default: the last 60 minutes)",
        tags: ["metrics"],
        security: apiKeySecurity,
        params: metricParams,
        querystring: {
          type: "object",
          properties: {
            dim: paramSchemas.dim,
            key: paramSchemas.key,
            from: { type: "string", format: "date-time", description: "First minute (default: to - 60 min)" },
            to: { type: "string", format: "date-time", description: "Last minute, included (default: now)" },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: "object",
            properties: {
              metric: { type: "string" },
              dim: { type: "string" },
              key: { type: "string" },
              from: { type: "string" },
              to: { type: "string", description: "End of the last minute (exclusive)" },
              points: {
                type: "array",
                items: {
                  type: "object",
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
            required: ["metric", "dim", "key", "from", "to", "points", "asOf", "link", "stale"],
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const served = await reader.series(seriesQuery({ ...req.query, metric: req.params.metric }, now()));
      setServedHeaders(reply, served);
      return { ...served.data, asOf: served.asOf, link: served.link, stale: served.stale };
    },
  );
};
