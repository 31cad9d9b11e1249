import { readFile } from "node:fs/promises";
import type { FastifyPluginAsync } from "fastify";

// The big-screen page and its script, served by the gateway itself: no CDN, nothing from elsewhere, which
// the content security policy also enforces in the browser.

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; " +
  "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

export const screenRoutes: FastifyPluginAsync = async (app) => {
  const [html, script] = await Promise.all([
    readFile(new URL("./screen.html", import.meta.url), "utf8"),
    readFile(new URL("./screen.js", import.meta.url), "utf8"),
  ]);

  app.get("/", async (_req, reply) => {
    reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", CSP)
      .header("cache-control", "no-cache");
    return html;
  });

  app.get("/screen.js", async (_req, reply) => {
    reply.type("text/javascript; charset=utf-8").header("cache-control", "no-cache");
    return script;
  });
};
