import { mkdir } from "node:fs/promises";
import { join } from "node:path";

// Where the load tests, drills and floods leave their figures and charts: loadtest/results/ (git-ignored),
// one name per run, stamped with the time it started.

const RESULTS_DIR = new URL("../results/", import.meta.url).pathname;

/** loadtest/results/<name>-<time> (created when `directory`); the caller adds an extension to a file's. */
export async function resultPath(name: string, directory = false, at = Date.now()): Promise<string> {
  const path = join(RESULTS_DIR, `${name}-${new Date(at).toISOString().replace(/[:.]/g, "-")}`);
  await mkdir(directory ? path : RESULTS_DIR, { recursive: true });
  return path;
}
