import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { Comparator } from "../comparator.ts";
import { auditRecordSchema } from "./schemas.ts";

// The audit trail, newest first, one page at a time: `next` is the `before` of the following page.
export const auditRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: { comparator: Comparator } }> = async (
  app,
  { comparator },
) => {
  app.get(
    "/v1/audit",
    {
      logLevel: "warn",
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            before: { type: "string", pattern: "^[A-Za-z0-9_.-]{1,128}$" },
          },
        },
        response: {
          200: {
            type: "object",
            additionalProperties: false,
            properties: {
              source: { type: "string", enum: ["consul", "file"] },
              records: { type: "array", items: auditRecordSchema },
              skipped: { type: "integer" },
              next: { type: ["string", "null"] },
            },
          },
        },
      } as const,
    },
    async (req) => comparator.audit.list(req.query.limit, req.query.before),
  );
};
