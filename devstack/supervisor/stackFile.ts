import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

// `.devstack/stack.json`: every address that tools (drills, load tests, a curl by hand) need to reach the
// running dev stack. Written atomically when the stack is up and again whenever an address or PID changes;
// removed when the supervisor stops, so a file that exists describes a running stack (check `pid` if unsure).

export const STACK_FILE = "stack.json";

export interface StackFileProcessor {
  pid: number | null;
  /** /healthz, /readyz and /metrics live under it. */
  opsUrl: string;
}

export interface StackFileLink {
  id: string;
  kafkaBootstrap: string;
  redisUrl: string;
  /** The embedded Kafka's fault-injection endpoint; null when the link uses a real Kafka. */
  kafkaAdminUrl: string | null;
  processors: StackFileProcessor[];
}

export interface StackFileService {
  name: string;
  /** Null while the service is down and waiting to be restarted. */
  pid: number | null;
  restarts: number;
  log: string;
}

export interface StackFile {
  links: StackFileLink[];
  consulUrl: string;
  /** Null when gateway/main.ts does not exist (yet). */
  gatewayUrl: string | null;
  /** Null when comparator/main.ts does not exist (yet). */
  comparatorUrl: string | null;
  apiKey: string;
  adminToken: string;
  startedAt: string;
  /** The supervisor's PID: SIGTERM (or SIGINT) to it stops the whole stack. */
  pid: number;
  /** Every supervised child, in start order. */
  services: StackFileService[];
}

export function stackFilePath(dir = process.env.DEVSTACK_DIR || ".devstack"): string {
  return resolve(join(dir, STACK_FILE));
}

export async function writeStackFile(file: string, stack: StackFile): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(stack, null, 2)}\n`);
  await rename(tmp, file);
}

export async function removeStackFile(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** The running stack's addresses; throws saying to run `npm start` when there is none. */
export async function readStackFile(file = stackFilePath()): Promise<StackFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new Error(`${file} not found: is the dev stack running? Start it with \`npm start\``);
    throw err;
  }
  return JSON.parse(text) as StackFile;
}
