import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import { errorResponses } from "../../common/httpErrors.ts";
import { valueInputSchema, valueQuery } from "../params.ts";
import { valueProperties } from "./metrics.ts";
import { apiKeySecurity, type DataRouteOptions, servedProperties, setServedHeaders } from "./served.ts";

// Many values in one request, all read from the same link at the same moment, so that figures shown side
// by side (GMV and orders, clicks and impressions) are consistent with each other.

export const MAX_QUERY_READS = 50;

export const queryRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: DataRouteOptions }> = async (
  app,
  { reader, clock, now, historyDays },
) => {
  app.post(
    "/query",
    {
      schema: {
        summary: "Several values in one request, all answered by the same link",
        tags: ["metrics"],
        security: apiKeySecurity,
        body: {
          type: "object",
          properties: {
            reads: {
              type: "array",
              minItems: 1,
              maxItems: MAX_QUERY_READS,
              items: valueInputSchema,
            },
          },
          required: ["reads"],
          additionalProperties: false,
        },
        response: {
          200: {
            type: "object",
            properties: {
              ...servedProperties,
              routingVersion: { type: "integer" },
              results: {
                type: "array",
                items: {
                  type: "object",
                  additionalProperties: false,
                  properties: {
                    ...valueProperties,
                    stale: { type: "boolean" },
                    complete: { type: "boolean" },
                  },
                  required: ["metric", "dim", "key", "window", "date", "value", "stale", "complete"],
                },
              },
            },
            required: ["asOf", "link", "stale", "complete", "routingVersion", "results"],
          },
          ...errorResponses,
        },
      } as const,
    },
    async (req, reply) => {
      const at = now();
      const queries = req.body.reads.map((r, i) => valueQuery(r, clock, at, historyDays, `reads.${i}.`));
      req.metricNames = [...new Set(queries.map((q) => q.metric))].join(",");
      const served = await reader.values(req.app, queries);
      setServedHeaders(reply, served);
      return {
        asOf: served.asOf,
        staleSince: served.staleSince,
        link: served.link,
        stale: served.stale,
        complete: served.complete,
        routingVersion: served.routingVersion,
        results: served.data,
      };
    },
  );
};
