import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type AuthThrottle, adminAuth } from "../../common/adminAuth.ts";
import { errorBody, errorSchema } from "../../common/httpErrors.ts";
import type { Comparator } from "../comparator.ts";
import type { OperatorOutcome, OperatorRequest } from "../operatorCommands.ts";
import type { Repairs } from "../repairs.ts";
import { repairStartRoutes } from "./repairs.ts";
import { auditRecordSchema, routingDocumentSchema } from "./schemas.ts";

// What an operator can do: fail over, pin, unpin, replace an unusable routing document. Each needs the admin token, a reason and the operator's name
// (the audit record's "who"); a target that is not healthy is refused with the evidence unless `force` is
// set, and a forced change is recorded as such.

export interface OperationsOptions {
  comparator: Comparator;
  repairs: Repairs;
  links: readonly string[];
  adminToken: string;
  authThrottle: AuthThrottle;
  onAuthFailure: (status: 401 | 403 | 429) => void;
}

export const operationsRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: OperationsOptions }> = async (
  app,
  opts,
) => {
  const properties = {
    to: { type: "string", enum: [...opts.links] },
    reason: { type: "string", minLength: 3, maxLength: 500 },
    operator: { type: "string", pattern: "^[A-Za-z0-9_.@ -]{1,64}$" },
    force: { type: "boolean", default: false },
  } as const;
  const targetBody = {
    type: "object",
    additionalProperties: false,
    required: ["to", "reason", "operator"],
    properties,
  } as const;
  const response = {
    200: {
      type: "object",
      additionalProperties: false,
      required: ["routing", "audit"],
      properties: { routing: routingDocumentSchema, audit: auditRecordSchema },
    },
    401: errorSchema,
    403: errorSchema,
    409: errorSchema,
    429: errorSchema,
    503: errorSchema,
  } as const;

  app.addHook("onRequest", adminAuth(opts.adminToken, opts.authThrottle, opts.onAuthFailure));

  const operation =
    (run: (req: OperatorRequest) => Promise<OperatorOutcome>) =>
    async (req: FastifyRequest<{ Body: Omit<OperatorRequest, "client"> }>, reply: FastifyReply) => {
      const outcome = await run({
        ...req.body,
        client: { ip: req.ip, userAgent: req.headers["user-agent"] ?? "" },
      });
      if (outcome.ok) return { routing: outcome.routing, audit: outcome.audit };
      const { code, message, evidence, leader } = outcome;
      const body = errorBody(code, message, {
        ...(evidence ? { evidence } : {}),
        ...(leader !== undefined ? { leader } : {}),
      });
      return reply.code(body.statusCode).send(body);
    };

  app.post(
    "/v1/failover",
    {
      schema: {
        body: targetBody,
        response,
      },
    },
    operation((r) => opts.comparator.failover(r)),
  );

  await app.register(repairStartRoutes, { repairs: opts.repairs, links: opts.links });
  // The way out when the document in Consul is unusable: a fresh one, above every version in force, audited.
  app.post(
    "/v1/routing/replace",
    {
      schema: {
        body: targetBody,
        response,
      },
    },
    operation((r) => opts.comparator.replaceRouting(r)),
  );

  app.post(
    "/v1/pin",
    {
      schema: {
        body: { type: "object", additionalProperties: false, required: ["reason", "operator"], properties },
        response,
      } as const,
    },
    operation((r) => opts.comparator.pin(r)),
  );

  app.post(
    "/v1/unpin",
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["reason", "operator"],
          properties: { reason: properties.reason, operator: properties.operator },
        },
        response,
      } as const,
    },
    operation((r) => opts.comparator.unpin(r)),
  );
};
