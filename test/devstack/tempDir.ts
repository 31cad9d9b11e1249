import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";

/**
 * A fresh directory for the tests of the enclosing describe block. After them, `stop` runs first (children
 * may still be writing into the directory), then the directory is removed.
 */
export function useTempDir(prefix: string, stop: () => Promise<unknown> = async () => {}): () => string {
  let dir: string | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    await stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error("the temporary directory exists only while the tests run");
    return dir;
  };
}
