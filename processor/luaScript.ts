import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

// A Lua script called by its SHA, loaded again when Redis answers NOSCRIPT (after a restart or a SCRIPT FLUSH).
// `preludes` are files of local functions the script shares with others, put before it in that order.
export class LuaScript {
  private readonly source: string;
  private readonly sha: string;

  constructor(fileUrl: URL, ...preludes: URL[]) {
    this.source = [...preludes, fileUrl].map((url) => readFileSync(url, "utf8")).join("\n");
    this.sha = createHash("sha1").update(this.source).digest("hex");
  }

  async run(redis: Redis, keys: string[], args: (string | number | Buffer)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).includes("NOSCRIPT")) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
