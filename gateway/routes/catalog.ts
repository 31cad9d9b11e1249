import type { FastifyPluginAsync } from "fastify";
import { DIMENSIONS, findMetric } from "../../common/catalog.ts";
import { errorResponses } from "../../common/httpErrors.ts";
import { metricViews } from "../params.ts";
import { apiKeySecurity } from "./served.ts";

// What can be asked for: every metric (catalog and derived) with its dimensions per window.

const names = { type: "array", items: { type: "string" } } as const;

export interface CatalogRouteOptions {
  timeZone: string;
  /** On the active link: the last business day a metric does not hold whole (null: complete). */
  incompleteThrough: (metric: string) => string | null;
  today: () => string;
}

export const catalogRoutes: FastifyPluginAsync<CatalogRouteOptions> = async (
  app,
  { timeZone, incompleteThrough, today },
) => {
  const body = {
    timeZone,
    windows: [
      { name: "day", description: "Business day to date, in the time zone" },
      { name: "minute", description: "One minute of the business day (HHMM)" },
    ],
    dimensions: Object.entries(DIMENSIONS).map(([name, description]) => ({ name, description })),
    metrics: metricViews().map((view) => {
      const def = findMetric(view.name);
      const derived = view.derived;
      return {
        name: view.name,
        title: def?.title ?? derived?.title ?? view.name,
        unit: def?.unit ?? derived?.unit ?? "",
        kind: def?.kind ?? derived?.op ?? "",
        cumulative: view.cumulative,
        dims: [...view.dims],
        minuteDims: [...view.minuteDims],
        ...(derived ? { derivedFrom: [...derived.of] } : {}),
      };
    }),
  };

  app.get(
    "/catalog",
    {
      schema: {
        summary: "Metrics, dimensions and windows that can be read",
        tags: ["catalog"],
        security: apiKeySecurity,
        response: {
          200: {
            type: "object",
            properties: {
              timeZone: { type: "string" },
              windows: {
                type: "array",
                items: {
                  type: "object",
                  properties: { name: { type: "string" }, description: { type: "string" } },
                },
              },
              dimensions: {
                type: "array",
                items: {
                  type: "object",
                  properties: { name: { type: "string" }, description: { type: "string" } },
                },
              },
              metrics: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    name: { type: "string" },
                    title: { type: "string" },
                    unit: { type: "string" },
                    kind: {
                      type: "string",
                      description:
                        "sum, count, distinct; ratio or difference for metrics derived at read time",
                    },
                    cumulative: { type: "boolean" },
                    dims: names,
                    minuteDims: names,
                    complete: {
                      type: "boolean",
                      description:
                        "The active link holds today's values whole (false for a metric added to a running link until it is backfilled)",
                    },
                    incompleteThrough: {
                      type: ["string", "null"],
                      description:
                        "The last business day the active link does not hold whole (null: every day is whole)",
                    },
                    derivedFrom: {
                      ...names,
                      description: "its two inputs: numerator and denominator, or minuend and subtrahend",
                    },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => {
      const date = today();
      return {
        ...body,
        metrics: body.metrics.map((m) => {
          const through = incompleteThrough(m.name);
          return { ...m, complete: through === null || through < date, incompleteThrough: through };
        }),
      };
    },
  );
};
