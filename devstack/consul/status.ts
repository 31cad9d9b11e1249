import { goJson, type Route, sendJson } from "./http.ts";

// /v1/status/*: a one-server cluster whose leader is this server. Consul answers these without an ACL token,
// which is what lets load balancers and readiness probes use them.

export const statusRoutes: Route[] = [
  {
    pattern: "/v1/status/leader",
    methods: ["GET"],
    public: true,
    handle: (ctx) => sendJson(ctx.res, goJson(ctx.settings.serverAddress)),
  },
  {
    pattern: "/v1/status/peers",
    methods: ["GET"],
    public: true,
    handle: (ctx) => sendJson(ctx.res, goJson([ctx.settings.serverAddress])),
  },
];
