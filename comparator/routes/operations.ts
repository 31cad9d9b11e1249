import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
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

interface Body {
  to?: string;
  reason: string;
  operator: string;
  force?: boolean;
}

export const operationsRoutes: FastifyPluginAsync<OperationsOptions> = async (app, opts) => {
  const properties = {
    to: { type: "string", enum: opts.links },
    reason: { type: "string", minLength: 3, maxLength: 500 },
    operator: { type: "string", pattern: "^[A-Za-z0-9_.@ -]{1,64}$" },
    force: { type: "boolean", default: false },
  };
  const targetBody = {
    type: "object",
    additionalProperties: false,
    required: ["to", "reason", "operator"],
    properties,
  };
  const response = {
    200: {
      type: "object",
      required: ["routing", "audit"],
      properties: { routing: routingDocumentSchema, audit: auditRecordSchema },
    },
    401: errorSchema,
    403: errorSchema,
    409: errorSchema,
    429: errorSchema,
    503: errorSchema,
  };

  app.addHook("onRequest", adminAuth(opts.adminToken, opts.authThrottle, opts.onAuthFailure));

  const operation =
    (run: (req: OperatorRequest) => Promise<OperatorOutcome>) =>
    async (req: FastifyRequest<{ Body: Body }>, reply: FastifyReply) => {
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

  app.post<{ Body: Body }>(
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
  app.post<{ Body: Body }>(
    "/v1/routing/replace",
    {
      schema: {
        body: targetBody,
        response,
      },
    },
    operation((r) => opts.comparator.replaceRouting(r)),
  );

  app.post<{ Body: Body }>(
    "/v1/pin",
    {
      schema: {
        body: { type: "object", additionalProperties: false, required: ["reason", "operator"], properties },
        response,
      },
    },
    operation((r) => opts.comparator.pin(r)),
  );

  app.post<{ Body: Body }>(
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
      },
    },
    operation((r) => opts.comparator.unpin(r)),
  );
};
