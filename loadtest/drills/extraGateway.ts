import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { linkEnvName } from "../../common/links.ts";
import { freePort } from "../../devstack/supervisor/freePort.ts";
import type { StackFile } from "../../devstack/supervisor/stackFile.ts";
import { waitFor } from "../../harness/links.ts";

// A second gateway beside the stack's own, configured the way the supervisor configures its gateway, so that
// the drills have two gateways behind their load balancing: every switch must reach both, and one of them
// can be restarted while the other serves.

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const STOP_GRACE_MS = 10_000;

export interface ExtraGateway {
  url: string;
  stop(): Promise<void>;
}

/** `settings`: gateway settings to give it beside the stack's addresses, as the stack's gateway was given them. */
export async function startExtraGateway(
  stack: StackFile,
  settings: Record<string, string> = {},
): Promise<ExtraGateway> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "oneservice-drill-gateway-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RATE_LIMIT_PER_SECOND: "0",
    ...settings,
    LINKS: stack.links.map((l) => l.id).join(","),
    CONSUL_HTTP_ADDR: new URL(stack.consulUrl).host,
    GATEWAY_PORT: String(port),
    GATEWAY_ID: `drill-gateway-${port}`,
    API_KEYS: `screen=${stack.apiKey}`,
    ADMIN_TOKEN: stack.adminToken,
    ROUTING_CACHE_FILE: join(dir, "routing.json"),
    LOG_LEVEL: "warn",
  };
  for (const link of stack.links) env[linkEnvName("REDIS_URL", link.id)] = link.redisUrl;
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(ROOT, "gateway/main.ts")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (d) => {
    output = (output + d).slice(-5_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      "the drill's second gateway",
      async () => {
        if (child.exitCode !== null) throw new Error(`the second gateway exited:\n${output}`);
        return (await fetch(`${url}/healthz`).catch(() => null))?.ok === true;
      },
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}
