import type { FastifyPluginAsync } from "fastify";
import type { Comparator } from "../comparator.ts";
import { auditRecordSchema } from "./schemas.ts";

// The audit trail, newest first.
export const auditRoutes: FastifyPluginAsync<{ comparator: Comparator }> = async (app, { comparator }) => {
  app.get<{ Querystring: { limit: number } }>(
    "/v1/audit",
    {
      logLevel: "warn",
      schema: {
        querystring: {
          type: "object",
          properties: { limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
        },
        response: {
          200: {
            type: "object",
            properties: {
              source: { type: "string", enum: ["consul", "file"] },
              records: { type: "array", items: auditRecordSchema },
            },
          },
        },
      },
    },
    async (req) => comparator.audit.list(req.query.limit),
  );
};
