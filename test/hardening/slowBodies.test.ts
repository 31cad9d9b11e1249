import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type ConsulDevServer, startConsulDevServer } from "../../devstack/consul/server.ts";
import { useFreshComparator } from "../comparator/harness.ts";
import { ADMIN_TOKEN, API_KEY, useHarness } from "../gateway/helpers.ts";

// A body trickled one byte at a time must not hold a connection: every server of ours (gateway, comparator,
// Consul dev server) cuts a request that has not fully arrived within HTTP_REQUEST_TIMEOUT. The test sends
// a byte every 200 ms of a body announced as 1000 bytes (200 s at that pace) and waits for the server to
// close the socket; it fails by the test runner's timeout if a server never does.

const TIMEOUT = "1s";

/** Trickles a request to host:port until the server closes the connection; what the server sent back. */
function trickle(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = "POST",
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    let timer: NodeJS.Timeout | undefined;
    socket.on("connect", () => {
      const head = Object.entries({ ...headers, "content-length": "1000", host: "127.0.0.1" })
        .map(([k, v]) => `${k}: ${v}`)
        .join("\r\n");
      socket.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n\r\n{`);
      timer = setInterval(() => socket.write(" "), 200);
    });
    socket.on("data", (d) => {
      answer += d.toString();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(timer);
      resolve(answer);
    });
    socket.setTimeout(60_000, () => reject(new Error("the server never closed the connection")));
  });
}

describe("hardening: slow bodies are cut off", { timeout: 60_000 }, () => {
  const h = useHarness(["a"]);
  const c = useFreshComparator(["a"], { HTTP_REQUEST_TIMEOUT: TIMEOUT });
  let consul: ConsulDevServer;

  before(async () => {
    consul = await startConsulDevServer({ port: 0, requestTimeoutMs: 1_000 });
  });
  after(() => consul.close());

  it("gateway: a body trickled after the 401, and one with a valid key", async () => {
    const gw = await h.gateway({ HTTP_REQUEST_TIMEOUT: TIMEOUT });
    await gw.app.listen({ port: 0, host: "127.0.0.1" });
    const port = (gw.app.server.address() as { port: number }).port;
    const unauthenticated = await trickle(port, "/v1/query", { "content-type": "application/json" });
    assert.match(unauthenticated, /^HTTP\/1.1 401/);
    const authenticated = await trickle(port, "/v1/query", {
      "content-type": "application/json",
      "x-api-key": API_KEY,
    });
    assert.match(authenticated, /^HTTP\/1.1 408/);
  });

  it("comparator: a body trickled with a valid token", async () => {
    const port = (c.c.app.server.address() as { port: number }).port;
    const answer = await trickle(port, "/v1/failover", {
      "content-type": "application/json",
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    assert.match(answer, /^HTTP\/1.1 408/);
  });

  it("Consul dev server: a KV write trickled", async () => {
    const answer = await trickle(consul.port, "/v1/kv/slow", {}, "PUT");
    assert.match(answer, /^HTTP\/1.1 408/);
  });
});
