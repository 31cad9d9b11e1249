import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import type { Registry } from "prom-client";

export interface ReadinessCheck {
  name: string;
  /** Resolves to null when ready, or to the reason it is not. */
  check: () => Promise<string | null> | string | null;
  /**
   * Reported in the body but never makes the service unready: for a problem that every replica shares and
   * that taking replicas out of rotation would only make worse (serving nothing instead of marked values).
   */
  advisory?: true;
}

export interface OpsRoutesOptions {
  registry: Registry;
  readiness: ReadinessCheck[];
}

// The three endpoints every service serves. /healthz answers while the event loop turns (liveness: restart
// me if this fails); /readyz answers 200 only when every dependency check that is not advisory passes
// (routing: send me traffic), and names every problem, advisory ones included.
export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app: FastifyInstance, opts) => {
  app.get("/healthz", { logLevel: "warn" }, async () => ({ status: "ok" }));

  app.get("/readyz", { logLevel: "warn" }, async (_req, reply) => {
    const results = await Promise.all(
      opts.readiness.map(async (c) => {
        try {
          return { name: c.name, advisory: c.advisory === true, problem: await c.check() };
        } catch (err) {
          return { name: c.name, advisory: c.advisory === true, problem: (err as Error).message };
        }
      }),
    );
    const failing = results.filter((r) => r.problem !== null && !r.advisory);
    reply.code(failing.length === 0 ? 200 : 503);
    return {
      status: failing.length === 0 ? "ready" : "not ready",
      checks: Object.fromEntries(results.map((r) => [r.name, r.problem ?? "ok"])),
    };
  });

  app.get("/metrics", { logLevel: "warn" }, async (_req, reply) => {
    reply.header("content-type", opts.registry.contentType);
    return opts.registry.metrics();
  });
};
