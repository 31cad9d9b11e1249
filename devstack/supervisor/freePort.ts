import { createServer } from "node:net";

/**
 * A port on 127.0.0.1 that nothing listens on right now. Another process may take it before the service we
 * hand it to binds it; that service then fails to start and is started again (on the same port) by its
 * supervisor, which is fine for a dev stack.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}
