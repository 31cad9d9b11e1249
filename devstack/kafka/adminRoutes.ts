import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply } from "fastify";
import { ALL_BROKERS, type MockCluster, MockClusterError } from "./mockCluster.ts";

// The fault-injection endpoint of one link's Kafka, for the fault drills and faultCli.ts. Bad input gets a
// 4xx JSON body { error, message }; Fastify's schema validation answers 400 in the same spirit.

export interface AdminRoutesOptions {
  cluster: MockCluster;
  linkId: string;
}

const MAX_RTT_MS = 600_000;
const MAX_PUSHED_ERRORS = 100_000;

const brokerParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^(all|-1|[0-9]+)$" } },
} as const;

const rttBody = {
  type: "object",
  required: ["ms"],
  additionalProperties: false,
  properties: { ms: { type: "integer", minimum: 0, maximum: MAX_RTT_MS } },
} as const;

const requestErrorsBody = {
  type: "object",
  required: ["apiKey", "errors"],
  additionalProperties: false,
  properties: {
    apiKey: { type: "integer", minimum: 0, maximum: 32767 },
    errors: { type: "array", minItems: 1, maxItems: 1000, items: { type: "integer" } },
    count: { type: "integer", minimum: 1, maximum: MAX_PUSHED_ERRORS },
  },
} as const;

const apiKeyParams = {
  type: "object",
  required: ["apiKey"],
  properties: { apiKey: { type: "integer", minimum: 0, maximum: 32767 } },
} as const;

const leaderParams = {
  type: "object",
  required: ["topic", "partition"],
  properties: { topic: { type: "string" }, partition: { type: "integer", minimum: 0 } },
} as const;

const leaderBody = {
  type: "object",
  required: ["brokerId"],
  additionalProperties: false,
  properties: { brokerId: { type: "integer", minimum: -1 } },
} as const;

function fail(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send({ error, message });
}

/** librdkafka answers ERR_<n>? for codes it has no name for. */
function isKnownErrorCode(cluster: MockCluster, code: number): boolean {
  return code !== 0 && !/^ERR_-?\d+\?$/.test(cluster.errName(code));
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app: FastifyInstance, opts) => {
  const { cluster, linkId } = opts;

  const brokerId = (raw: string) => (raw === "all" ? ALL_BROKERS : Number(raw));

  app.setErrorHandler((err: FastifyError | MockClusterError, _req, reply) => {
    if (err instanceof MockClusterError) return fail(reply, 422, "rejected by the mock cluster", err.message);
    const status = err.statusCode !== undefined && err.statusCode < 500 ? err.statusCode : 500;
    return fail(reply, status, status < 500 ? "bad request" : "internal error", err.message);
  });

  app.get("/healthz", { logLevel: "warn" }, async () => ({ status: "ok" }));

  app.get("/status", async () => ({ link: linkId, ...cluster.status() }));

  const brokerAction = (action: "down" | "up") =>
    app.post<{ Params: { id: string } }>(
      `/brokers/:id/${action}`,
      { schema: { params: brokerParams } },
      async (req, reply) => {
        const id = brokerId(req.params.id);
        if (!cluster.hasBroker(id)) return fail(reply, 404, "unknown broker", `no broker ${req.params.id}`);
        if (action === "down") cluster.setBrokerDown(id);
        else cluster.setBrokerUp(id);
        req.log.warn({ broker: req.params.id }, `fault injection: broker ${action}`);
        return { brokers: cluster.brokers };
      },
    );
  brokerAction("down");
  brokerAction("up");

  app.post<{ Params: { id: string }; Body: { ms: number } }>(
    "/brokers/:id/rtt",
    { schema: { params: brokerParams, body: rttBody } },
    async (req, reply) => {
      const id = brokerId(req.params.id);
      if (!cluster.hasBroker(id)) return fail(reply, 404, "unknown broker", `no broker ${req.params.id}`);
      cluster.setBrokerRtt(id, req.body.ms);
      req.log.warn({ broker: req.params.id, rttMs: req.body.ms }, "fault injection: broker rtt");
      return { brokers: cluster.brokers };
    },
  );

  app.post<{ Body: { apiKey: number; errors: number[]; count?: number } }>(
    "/request-errors",
    { schema: { body: requestErrorsBody } },
    async (req, reply) => {
      const { apiKey, errors, count = 1 } = req.body;
      const unknown = errors.filter((code) => !isKnownErrorCode(cluster, code));
      if (unknown.length > 0)
        return fail(
          reply,
          400,
          "unknown error code",
          `not Kafka/librdkafka error codes: ${unknown.join(", ")}`,
        );
      if (errors.length * count > MAX_PUSHED_ERRORS)
        return fail(reply, 400, "too many errors", `errors × count must be at most ${MAX_PUSHED_ERRORS}`);
      const sequence = Array.from({ length: count }, () => errors).flat();
      const pushed = cluster.pushRequestErrors(apiKey, sequence);
      req.log.warn({ apiKey, errors, count }, "fault injection: request errors pushed");
      return { pushed: sequence.length, apiKey, errors: pushed.errors.slice(0, errors.length) };
    },
  );

  app.delete<{ Params: { apiKey: number } }>(
    "/request-errors/:apiKey",
    { schema: { params: apiKeyParams } },
    async (req) => {
      cluster.clearRequestErrors(req.params.apiKey);
      req.log.warn({ apiKey: req.params.apiKey }, "fault injection: request errors cleared");
      return { cleared: req.params.apiKey };
    },
  );

  app.post<{ Params: { topic: string; partition: number }; Body: { brokerId: number } }>(
    "/topics/:topic/partitions/:partition/leader",
    { schema: { params: leaderParams, body: leaderBody } },
    async (req, reply) => {
      const { topic, partition } = req.params;
      const { brokerId: leader } = req.body;
      // The mock would silently create an unknown topic, so we check first.
      if (!cluster.topics.includes(topic)) return fail(reply, 404, "unknown topic", `no topic ${topic}`);
      if (partition >= cluster.partitions)
        return fail(reply, 404, "unknown partition", `${topic} has partitions 0..${cluster.partitions - 1}`);
      if (!cluster.hasBroker(leader)) return fail(reply, 404, "unknown broker", `no broker ${leader}`);
      cluster.setPartitionLeader(topic, partition, leader);
      req.log.warn({ topic, partition, leader }, "fault injection: partition leader set");
      return { topic, partition, leader };
    },
  );
};
