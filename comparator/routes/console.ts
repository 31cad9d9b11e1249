import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { FastifyPluginAsync } from "fastify";

// The ops console: one self-contained page (no CDN, no external file), its script and style inlined when the
// comparator starts. The Content-Security-Policy allows exactly those two inline blocks, by hash, and
// requests to this origin only.

function assemble(): { html: string; csp: string } {
  const read = (name: string) => readFileSync(new URL(`../console/${name}`, import.meta.url), "utf8");
  const style = read("console.css");
  const script = read("console.js");
  const html = read("index.html")
    .replace("/*STYLE*/", () => style)
    .replace("/*SCRIPT*/", () => script);
  const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
  const csp = [
    "default-src 'none'",
    `script-src ${hash(script)}`,
    `style-src ${hash(style)}`,
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}

export const consoleRoutes: FastifyPluginAsync = async (app) => {
  const page = assemble();
  // Browsers ask for it on their own; an empty answer keeps a 404 out of the operator's console.
  app.get("/favicon.ico", { logLevel: "warn" }, async (_req, reply) => reply.code(204).send());
  app.get("/", { logLevel: "warn" }, async (_req, reply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", page.csp)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header("cache-control", "no-store")
      .send(page.html),
  );
};
