import type { FastifyPluginAsync } from "fastify";
import { type AuthThrottle, adminAuth } from "../../common/adminAuth.ts";
import { errorResponses } from "../../common/httpErrors.ts";
import type { AnswerCache } from "../answerCache.ts";
import type { LinkPool } from "../links/linkPool.ts";
import type { MetricReaderDeps } from "../metricReader.ts";
import type { RoutingWatcher } from "../routing/routingWatcher.ts";

// What an operator asks a gateway: which routing it applied (and whether Consul has heard), how its
// caches do, and the state of its connection to every link. Read-only: routing changes go through Consul.

/** The reader's parts an operator looks at, plus what only the admin routes need. */
export interface AdminOptions
  extends Pick<MetricReaderDeps, "router" | "cache" | "lastKnown" | "noDip" | "metrics" | "staleServeMaxMs"> {
  adminToken: string;
  authThrottle: AuthThrottle;
  routing: RoutingWatcher;
  pool: LinkPool;
  answers: AnswerCache;
}

const security = [{ adminToken: [] }];
const anyObject = { type: "object", additionalProperties: true } as const;

async function total(counter: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}

export const adminRoutes: FastifyPluginAsync<AdminOptions> = async (app, opts) => {
  app.addHook(
    "onRequest",
    adminAuth(opts.adminToken, opts.authThrottle, (status) =>
      opts.metrics.authFailures.inc({ status: String(status) }),
    ),
  );
  app.addHook("onRequest", (req, _reply, done) => {
    req.app = "admin";
    done();
  });

  app.get(
    "/routing",
    {
      schema: {
        summary: "The routing document in force, where it came from, its acknowledgement and link health",
        tags: ["admin"],
        security,
        response: { 200: anyObject, ...errorResponses },
      },
    },
    async () => opts.routing.status(),
  );

  app.get(
    "/cache",
    {
      schema: {
        summary:
          "Micro-cache, kept answers, last-known values and no-dip guard: sizes (in all and per application) and counters",
        tags: ["admin"],
        security,
        response: { 200: anyObject, ...errorResponses },
      },
    },
    async () => ({
      microCache: {
        ...opts.cache.stats(),
        hits: await total(opts.metrics.cacheHits),
        misses: await total(opts.metrics.cacheMisses),
        coalesced: await total(opts.metrics.cacheCoalesced),
      },
      answers: { entries: opts.answers.size, byApp: opts.answers.sizes() },
      lastKnown: {
        entries: opts.lastKnown.size,
        byApp: opts.lastKnown.sizes(),
        maxAgeMs: opts.staleServeMaxMs,
      },
      noDip: { entries: opts.noDip.size, byApp: opts.noDip.sizes() },
    }),
  );

  app.get(
    "/links",
    {
      schema: {
        summary:
          "Per link: connection state, watermark, role in the routing and health as the comparator sees it",
        tags: ["admin"],
        security,
        response: { 200: anyObject, ...errorResponses },
      },
    },
    async () => {
      const doc = opts.routing.current;
      const order = doc ? opts.router.candidates(doc) : [];
      const health = opts.routing.health?.links ?? {};
      return {
        links: opts.pool.states().map((state) => ({
          ...state,
          role: doc?.active === state.id ? "active" : doc?.standby.includes(state.id) ? "standby" : "unused",
          readOrder: order.indexOf(state.id),
          health: health[state.id]?.state ?? null,
        })),
      };
    },
  );
};
