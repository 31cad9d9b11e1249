import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import { errorBody, errorSchema } from "../../common/httpErrors.ts";
import type { Repairs } from "../repairs.ts";

// Repair and backfill of one link (POST, with the admin token: registered inside the operations routes) and
// their progress (GET, public like /v1/links). The repair itself is `npm run repair`: comparator/repairs.ts.

export const repairStatusSchema = {
  type: ["object", "null"],
  additionalProperties: false,
  properties: {
    link: { type: "string" },
    operation: { type: "string", enum: ["repair", "backfill"] },
    state: { type: "string", enum: ["running", "succeeded", "failed", "refused"] },
    by: { type: "string" },
    reason: { type: "string" },
    startedAt: { type: "string" },
    endedAt: { type: ["string", "null"] },
    progress: { type: ["object", "null"], additionalProperties: true },
    summary: { type: ["object", "null"], additionalProperties: true },
    error: { type: ["string", "null"] },
  },
} as const;

type RepairRoutes = FastifyPluginAsyncJsonSchemaToTs<{
  Options: { repairs: Repairs; links: readonly string[] };
}>;

/** The link a repair route is about, one of LINKS. */
function linkParams(links: readonly string[]) {
  return {
    type: "object",
    properties: { id: { type: "string", enum: [...links] } },
    required: ["id"],
  } as const;
}

export const repairStartRoutes: RepairRoutes = async (app, { repairs, links }) => {
  app.post(
    "/v1/links/:id/repair",
    {
      schema: {
        params: linkParams(links),
        body: {
          type: "object",
          additionalProperties: false,
          required: ["reason", "operator"],
          properties: {
            reason: { type: "string", minLength: 3, maxLength: 500 },
            operator: { type: "string", pattern: "^[A-Za-z0-9_.@ -]{1,64}$" },
            force: { type: "boolean", default: false, description: "repair the active link (break-glass)" },
            backfill: {
              type: "boolean",
              default: false,
              description: "complete the metrics it does not hold whole",
            },
          },
        },
        response: { 202: repairStatusSchema, 409: errorSchema },
      } as const,
    },
    async (req, reply) => {
      const { reason, operator, force = false, backfill = false } = req.body;
      const status = repairs.start(req.params.id, { reason, operator, force, backfill });
      if (!status)
        return reply
          .code(409)
          .send(errorBody("repair_running", `a repair of link ${req.params.id} is running`));
      return reply.code(202).send(status);
    },
  );
};

export const repairStatusRoutes: RepairRoutes = async (app, { repairs, links }) => {
  app.get(
    "/v1/links/:id/repair",
    {
      logLevel: "warn",
      schema: { params: linkParams(links), response: { 200: repairStatusSchema } } as const,
    },
    async (req) => repairs.status(req.params.id),
  );
};
