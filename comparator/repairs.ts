import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { LinkAddress } from "../common/links.ts";
import { linkEnvName } from "../common/links.ts";
import type { Logger } from "../common/logger.ts";

// Repairs and backfills started from the API and the console. Each runs `npm run repair` (the same code as
// on the command line: processor/reconcile/repairMain.ts) as a child process, so that a long recompute never
// delays a probe; its JSON progress lines are what GET /v1/links/:id/repair and the console show, and it
// writes its own audit record. One at a time per link.

export interface RepairRequest {
  reason: string;
  operator: string;
  force: boolean;
  backfill: boolean;
}

export interface RepairStatus {
  link: string;
  operation: "repair" | "backfill";
  state: "running" | "succeeded" | "failed" | "refused";
  by: string;
  reason: string;
  startedAt: string;
  endedAt: string | null;
  /** The command's latest progress line: stage, records recomputed of total, rate, ETA, values that differ. */
  progress: Record<string, unknown> | null;
  /** What it changed, when it succeeded (as in its audit record). */
  summary: Record<string, unknown> | null;
  error: string | null;
}

const SCRIPT = new URL("../processor/reconcile/repairMain.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

export class Repairs {
  private readonly statuses = new Map<string, RepairStatus>();
  private readonly children = new Set<ChildProcess>();

  constructor(
    private readonly links: readonly LinkAddress[],
    private readonly env: {
      consulAddr: string;
      consulToken: string;
      auditFile: string;
      categoryFile: string;
    },
    private readonly log: Logger,
  ) {}

  status(link: string): RepairStatus | null {
    return this.statuses.get(link) ?? null;
  }

  /** Starts a repair of `link`; null when one is running there already. */
  start(link: string, req: RepairRequest): RepairStatus | null {
    if (this.statuses.get(link)?.state === "running") return null;
    const address = this.links.find((l) => l.id === link);
    if (!address) throw new Error(`no link ${link}`);
    const status: RepairStatus = {
      link,
      operation: req.backfill ? "backfill" : "repair",
      state: "running",
      by: `operator:${req.operator}`,
      reason: req.reason,
      startedAt: new Date().toISOString(),
      endedAt: null,
      progress: null,
      summary: null,
      error: null,
    };
    this.statuses.set(link, status);
    const args = [
      "--import",
      "tsx",
      SCRIPT,
      "--link",
      link,
      "--reason",
      req.reason,
      "--operator",
      req.operator,
    ];
    if (req.force) args.push("--force");
    if (req.backfill) args.push("--backfill");
    args.push("--progress-json");
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        [linkEnvName("REDIS_URL", link)]: address.redisUrl,
        [linkEnvName("KAFKA_BROKERS", link)]: address.kafkaBrokers.join(","),
        CONSUL_HTTP_ADDR: this.env.consulAddr,
        CONSUL_HTTP_TOKEN: this.env.consulToken,
        AUDIT_FILE: this.env.auditFile,
        DIM_CATEGORY_FILE: this.env.categoryFile,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr = (stderr + d).slice(-4_000);
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const message = JSON.parse(line) as { progress?: object; summary?: object; error?: string };
        if (message.progress) status.progress = message.progress as Record<string, unknown>;
        if (message.summary) status.summary = message.summary as Record<string, unknown>;
        if (message.error) status.error = message.error;
      } catch {
        // Not one of the command's JSON lines (a library's warning): only the stderr tail is kept.
      }
    });
    child.on("exit", (code) => {
      this.children.delete(child);
      status.endedAt = new Date().toISOString();
      status.state = code === 0 ? "succeeded" : code === 2 ? "refused" : "failed";
      if (code !== 0) status.error ??= stderr.trim().split("\n").at(-1) ?? `exit ${code}`;
      this.log.info({ repair: status }, `${status.operation} of link ${link} ${status.state}`);
    });
    return status;
  }

  /** Stops running repairs (they release the link's pause, or it expires). */
  close(): void {
    for (const child of this.children) child.kill("SIGTERM");
  }
}
