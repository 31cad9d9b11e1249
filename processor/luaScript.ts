import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

// A Lua script called by its SHA, loaded again when Redis answers NOSCRIPT (after a restart or a SCRIPT FLUSH).
export class LuaScript {
  private readonly source: string;
  private readonly sha: string;

  constructor(fileUrl: URL) {
    this.source = readFileSync(fileUrl, "utf8");
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
