import type { FastifyPluginAsync } from "fastify";
import type { Comparator } from "../comparator.ts";
import { routingDocumentSchema } from "./schemas.ts";

// The routing document as last read or written, who leads, and how many gateways run its version.
export const routingRoutes: FastifyPluginAsync<{ comparator: Comparator }> = async (app, { comparator }) => {
  app.get(
    "/v1/routing",
    {
      logLevel: "warn",
      schema: {
        response: {
          200: {
            type: "object",
            properties: {
              routing: { anyOf: [routingDocumentSchema, { type: "null" }] },
              problem: { type: ["string", "null"] },
              leader: {
                type: "object",
                properties: {
                  isLeader: { type: "boolean" },
                  comparatorId: { type: "string" },
                  holder: {
                    type: ["object", "null"],
                    properties: {
                      id: { type: "string" },
                      url: { type: "string" },
                      since: { type: "string" },
                    },
                  },
                },
              },
              gateways: {
                type: "object",
                properties: {
                  total: { type: "integer" },
                  onNewest: { type: "integer" },
                  acks: {
                    type: "array",
                    items: {
                      type: "object",
                      properties: {
                        gatewayId: { type: "string" },
                        version: { type: "integer" },
                        appliedAt: { type: "string" },
                        active: { type: "string" },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    async () => comparator.routingView(),
  );
};
