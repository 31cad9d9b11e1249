import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyPluginAsync } from "fastify";
import type { Comparator } from "../comparator.ts";
import { LIVE_METRICS } from "../observation.ts";
import type { Repairs } from "../repairs.ts";
import { repairStatusSchema } from "./repairs.ts";
import { linkViewSchema } from "./schemas.ts";

// What the comparator sees of every link, and the live gaps over time for the console's chart.
export const linksRoutes: FastifyPluginAsync<{ comparator: Comparator; repairs: Repairs }> = async (
  app,
  { comparator, repairs },
) => {
  app.get(
    "/v1/links",
    {
      logLevel: "warn",
      schema: {
        response: {
          200: {
            type: "object",
            properties: {
              comparatorId: { type: "string" },
              leader: { type: "boolean" },
              probedAt: { type: ["string", "null"] },
              date: { type: "string" },
              probeIntervalMs: { type: "integer" },
              links: {
                type: "array",
                items: {
                  ...linkViewSchema,
                  properties: { ...linkViewSchema.properties, repair: repairStatusSchema },
                },
              },
              thresholds: { type: "object", additionalProperties: { type: "number" } },
            },
          },
        },
      },
    },
    async () => {
      const view = comparator.linksView();
      return { ...view, links: view.links.map((l) => ({ ...l, repair: repairs.status(l.id) })) };
    },
  );

  // The query's type comes from its schema. /v1/links keeps its handler's own types: its schema names the
  // fields the console reads, not every field of a link view.
  app.withTypeProvider<JsonSchemaToTsProvider>().get(
    "/v1/gaps",
    {
      logLevel: "warn",
      schema: {
        querystring: {
          type: "object",
          properties: {
            metric: { type: "string", enum: LIVE_METRICS.map((m) => m.name), default: LIVE_METRICS[0]?.name },
          },
        },
        response: {
          200: {
            type: "object",
            properties: {
              metric: { type: "string" },
              points: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    t: { type: "number" },
                    gaps: { type: "object", additionalProperties: { type: "number" } },
                  },
                },
              },
            },
          },
        },
      } as const,
    },
    async (req) => comparator.gapsView(req.query.metric),
  );
};
