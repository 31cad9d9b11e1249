import type { Server } from "node:http";
import type { Socket } from "node:net";
import { duration } from "./config.ts";

// The bounds every HTTP server of ours puts on a client: the whole request (headers and body) must arrive
// within the request timeout, so a body trickled a byte at a time is cut off (Node answers 408 and closes);
// a connection with no traffic either way for the idle timeout is closed (an SSE stream pings well inside
// it). Node checks running requests against the timeout every `connectionsCheckingInterval`.

export const httpTimeoutSettings = {
  requestTimeoutMs: duration({
    env: "HTTP_REQUEST_TIMEOUT",
    default: 10_000,
    shownDefault: "10s",
    min: 100,
    doc: "Time a client has to send a whole request, headers and body; a slower one gets 408 and is disconnected.",
  }),
  idleTimeoutMs: duration({
    env: "HTTP_IDLE_TIMEOUT",
    default: 60_000,
    shownDefault: "60s",
    min: 1_000,
    doc: "A connection with no traffic either way for this long is closed (streams ping every 15 s).",
  }),
};

export interface HttpTimeouts {
  requestTimeoutMs: number;
  idleTimeoutMs: number;
}

/** Options of node:http's createServer that bound how long a request may take to arrive. */
export function requestBounds(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, Math.ceil(requestTimeoutMs / 2)),
  };
}

/** Fastify's server options for these bounds. */
export function fastifyTimeouts(t: HttpTimeouts) {
  return {
    requestTimeout: t.requestTimeoutMs,
    connectionTimeout: t.idleTimeoutMs,
    http: requestBounds(t.requestTimeoutMs),
  };
}

/**
 * The connections that have not sent a byte (a client's spare connection, a port scan), to close when the
 * server closes: Node's closeIdleConnections leaves a connection that has not begun a request, so a shutdown
 * would wait for it until the idle timeout. Call the returned function from a preClose hook.
 */
export function silentConnections(server: Server): () => void {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return () => {
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
  };
}
