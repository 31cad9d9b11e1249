import { Counter, Gauge, Histogram, type Registry } from "prom-client";

// The gateway's Prometheus series. Names and labels are a contract with dashboards and alerts: keep them.
// Label values are bounded: applications come from configuration, routes from the route table (unmatched
// paths share one label), links from LINKS.

export function gatewayMetrics(registry: Registry, links: readonly string[]) {
  const registers = [registry];
  // Requests are counted here and handed to the counter when it is read (a scrape), as prom-client hashes
  // and checks the labels on every increment, which showed in the profile of a request.
  const requestCounts = new Map<Counter.Internal, { count: number }>();
  const requests = new Counter({
    name: "oneservice_gateway_requests_total",
    help: "Requests answered, by calling application, route and HTTP status",
    labelNames: ["app", "route", "status"] as const,
    registers,
    collect() {
      for (const [child, counted] of requestCounts) {
        if (counted.count > 0) child.inc(counted.count);
        counted.count = 0;
      }
    },
  });
  const requestSeconds = new Histogram({
    name: "oneservice_gateway_request_seconds",
    help: "Time to answer a request (for /v1/stream: how long the stream stayed open)",
    labelNames: ["app", "route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const linkUp = new Gauge({
    name: "oneservice_gateway_link_up",
    help: "1 while the connection to the link's Redis is ready",
    labelNames: ["link"] as const,
    registers,
  });
  for (const link of links) linkUp.set({ link }, 0);

  let consulProbe: () => boolean = () => false;

  // The few label combinations a gateway sees, by app, route and status: nested maps find them without
  // building a key string per request.
  const requestChildren = new Map<
    string,
    Map<string, Map<number, { counted: { count: number }; seconds: Histogram.Internal<"app" | "route"> }>>
  >();
  const requestChild = (app: string, route: string, status: number) => {
    let byRoute = requestChildren.get(app);
    if (!byRoute) {
      byRoute = new Map();
      requestChildren.set(app, byRoute);
    }
    let byStatus = byRoute.get(route);
    if (!byStatus) {
      byStatus = new Map();
      byRoute.set(route, byStatus);
    }
    let child = byStatus.get(status);
    if (!child) {
      const counted = { count: 0 };
      requestCounts.set(requests.labels(app, route, String(status)), counted);
      child = { counted, seconds: requestSeconds.labels(app, route) };
      byStatus.set(status, child);
    }
    return child;
  };

  return {
    /** One finished request: counted and timed. */
    observeRequest(app: string, route: string, status: number, seconds: number): void {
      const child = requestChild(app, route, status);
      child.counted.count += 1;
      child.seconds.observe(seconds);
    },
    linkUp,
    fallbacks: new Counter({
      name: "oneservice_gateway_fallbacks_total",
      help: "Reads answered by another link than the active one (to=none: no link answered), by why the active failed",
      labelNames: ["from", "to", "reason"] as const,
      registers,
    }),
    staleServed: new Counter({
      name: "oneservice_gateway_stale_served_total",
      help: "Responses flagged stale: no_dip = a lagging link's smaller cumulative value replaced by one already served; links_down = last-known value served with every link down; stopped = the serving link's data stopped advancing (STALE_AFTER) or the comparator judges it down",
      labelNames: ["reason"] as const,
      registers,
    }),
    unavailable: new Counter({
      name: "oneservice_gateway_unavailable_total",
      help: "Reads refused with 503: no link answered and no last-known value was fresh enough, or no routing yet",
      registers,
    }),
    routingVersion: new Gauge({
      name: "oneservice_gateway_routing_version",
      help: "Version of the routing document in force",
      registers,
    }),
    routingActive: new Gauge({
      name: "oneservice_gateway_routing_active",
      help: "1 for the link the routing document in force names active",
      labelNames: ["link"] as const,
      registers,
    }),
    routingSwitches: new Counter({
      name: "oneservice_gateway_routing_switches_total",
      help: "Routing documents applied that changed the active link",
      registers,
    }),
    consulDocuments: new Counter({
      name: "oneservice_gateway_consul_documents_total",
      help: "Routing and health documents received from Consul: applied, unchanged (same value again) or invalid (ignored, the last good one stays)",
      labelNames: ["key", "result"] as const,
      registers,
    }),
    consulErrors: new Counter({
      name: "oneservice_gateway_consul_errors_total",
      help: "Failed Consul calls (watches, acknowledgements, session renewals), by operation",
      labelNames: ["operation"] as const,
      registers,
    }),
    consulReachable: new Gauge({
      name: "oneservice_gateway_consul_reachable",
      help: "1 while the routing watch gets answers from Consul",
      registers,
      collect() {
        this.set(consulProbe() ? 1 : 0);
      },
    }),
    /** How the consul_reachable gauge finds out, at each scrape (a quiet watch reports nothing in between). */
    probeConsulWith(probe: () => boolean): void {
      consulProbe = probe;
    },
    cacheHits: new Counter({
      name: "oneservice_gateway_cache_hits_total",
      help: "Reads answered from the micro-cache",
      registers,
    }),
    cacheMisses: new Counter({
      name: "oneservice_gateway_cache_misses_total",
      help: "Reads that went to a link",
      registers,
    }),
    cacheCoalesced: new Counter({
      name: "oneservice_gateway_cache_coalesced_total",
      help: "Reads that joined an identical read already on its way to a link",
      registers,
    }),
    authFailures: new Counter({
      name: "oneservice_gateway_auth_failures_total",
      help: "Refused authentications (401, 403) and refusals of addresses over their failure limit (429)",
      labelNames: ["status"] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: "oneservice_gateway_rate_limited_total",
      help: "Requests refused with 429, by application",
      labelNames: ["app"] as const,
      registers,
    }),
    streamClients: new Gauge({
      name: "oneservice_gateway_stream_clients",
      help: "Open /v1/stream connections",
      registers,
    }),
    streamsDropped: new Counter({
      name: "oneservice_gateway_streams_dropped_total",
      help: "Streams destroyed because their reader fell more than 1 MiB behind",
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
