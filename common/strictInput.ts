import type { IncomingMessage } from "node:http";

// Input rules of both services, stricter than Fastify's defaults. The JSON body parser refuses a charset other
// than UTF-8 (415) rather than decoding it as UTF-8 anyway, and a number JSON.parse cannot hold (1e400 becomes
// Infinity, which schema coercion would then turn into the string "Infinity") with 400. Query parameters get
// the same rule after validation: Ajv coerces "1e400" to Infinity and lets it pass `integer` and `maximum`.

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

class BodyError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

function finiteOnly(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value))
    throw new BodyError(400, "body holds a number out of range");
  return value;
}

type Done = (err: Error | null, body?: unknown) => void;

/** The part of a Fastify instance this needs, whatever its logger and server types. */
interface InputHost {
  addHook(
    name: "preHandler",
    hook: (req: { query: unknown }, reply: unknown, done: (err?: Error) => void) => void,
  ): unknown;
  removeContentTypeParser(contentType: string): unknown;
  addContentTypeParser(
    contentType: string,
    opts: { parseAs: "string" },
    parser: (req: { headers: IncomingMessage["headers"] }, body: string | Buffer, done: Done) => void,
  ): unknown;
}

/** Installs both rules on `app` (call before routes are registered). */
export function installStrictInput(app: InputHost): void {
  app.addHook("preHandler", (req, _reply, done) => {
    const query = req.query;
    if (typeof query === "object" && query !== null) {
      for (const [name, value] of Object.entries(query)) {
        if (typeof value === "number" && !Number.isFinite(value)) {
          done(Object.assign(new BodyError(400, `${name} is out of range`), { field: name }));
          return;
        }
      }
    }
    done();
  });
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    const charset = CHARSET.exec(req.headers["content-type"] ?? "")?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      done(new BodyError(415, `charset ${charset.slice(0, 40)} is not supported: send UTF-8`), undefined);
      return;
    }
    if (body === "") {
      done(new BodyError(400, "body is empty"), undefined);
      return;
    }
    try {
      done(null, JSON.parse(body as string, finiteOnly));
    } catch (err) {
      done(err instanceof BodyError ? err : new BodyError(400, "body is not valid JSON"), undefined);
    }
  });
}
