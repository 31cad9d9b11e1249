import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { loadConfig } from "../../common/config.ts";
import { consulClient, consulSettings } from "../../common/consul.ts";
import { loadLinkAddresses } from "../../common/links.ts";
import { createLogger } from "../../common/logger.ts";
import { CONSUL_KEYS, type RoutingDocument } from "../../common/routing.ts";
import { AuditLog } from "../../comparator/audit.ts";
import { comparatorSettings } from "../../comparator/config.ts";
import { readStackFile } from "../../devstack/supervisor/stackFile.ts";
import { CategoryIndustry, SellerTiers } from "../dimensions.ts";
import { type RepairMode, type RepairProgress, repairLink } from "./repair.ts";
import { kafkaTopics, truthFile } from "./sources.ts";

const USAGE = `npm run repair -- --link ID --reason TEXT [--operator NAME] [--force] [--backfill]
                       [--from-truth FILE] [--scratch URL] [--categories FILE] [--progress-json]

Repairs one link from its own input: pauses its processors at a batch boundary, recomputes every metric it
holds whole from its Kafka (or an archive) up to exactly its stored offsets with the processor's code,
rewrites every value that differs (fenced on those offsets), checks it, resumes, and writes an audit record.
With --backfill it does the same for the metrics the link does not hold whole (added while it ran) and marks
them complete. Exit 0: the link equals the recompute; 1: it could not be repaired (it says why); 2: refused
or bad usage.

  --link ID         the link (its KAFKA_BROKERS_<ID> and REDIS_URL_<ID>, else the running dev stack's)
  --reason TEXT     why, for the audit trail (required)
  --operator NAME   who (default: the user running it)
  --force           repair the active link too (break-glass: the gateways read it while it is paused)
  --backfill        complete the metrics the link does not hold whole instead of repairing the others
  --from-truth FILE recompute from this archive (the generator's truth file) instead of the link's Kafka
  --scratch URL     an empty database the recompute may flush (default: the link's server, database 15)
  --categories FILE category -> industry table (default: $DIM_CATEGORY_FILE or .devstack/dims/category_industry.json)
  --progress-json   progress as JSON lines on stdout (for the comparator's console)
  (CONSUL_HTTP_ADDR: where the routing and the audit trail are; default the dev stack's, else 127.0.0.1:8500)`;

const EXIT = { repaired: 0, failed: 1, refused: 2 } as const;

const { values: args } = parseArgs({
  options: {
    link: { type: "string" },
    reason: { type: "string" },
    operator: { type: "string", default: process.env.USER || userInfo().username },
    force: { type: "boolean", default: false },
    backfill: { type: "boolean", default: false },
    "from-truth": { type: "string" },
    scratch: { type: "string" },
    categories: {
      type: "string",
      default: process.env.DIM_CATEGORY_FILE || ".devstack/dims/category_industry.json",
    },
    "progress-json": { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});

function refuse(message: string): never {
  process.stderr.write(`repair: ${message}\n\n${USAGE}\n`);
  process.exit(EXIT.refused);
}

if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!args.link) refuse("give --link");
if (!args.reason?.trim()) refuse("give --reason: it goes into the audit trail");
const linkId = args.link;
const mode: RepairMode = args.backfill ? "backfill" : "repair";

/** The link's addresses from its environment variables, else from the running dev stack. */
async function addressOf(id: string): Promise<{ redisUrl: string; brokers: string[]; consulAddr: string }> {
  const stack = await readStackFile().catch(() => null);
  const fromStack = stack?.links.find((l) => l.id === id);
  const consulAddr = process.env.CONSUL_HTTP_ADDR || stack?.consulUrl || "127.0.0.1:8500";
  if (process.env[`REDIS_URL_${id.toUpperCase()}`]) {
    const [address] = loadLinkAddresses([id], { kafka: !args["from-truth"], redis: true });
    return { redisUrl: address?.redisUrl ?? "", brokers: address?.kafkaBrokers ?? [], consulAddr };
  }
  if (!fromStack)
    refuse(
      `no link ${id}: set REDIS_URL_${id.toUpperCase()} and KAFKA_BROKERS_${id.toUpperCase()}, or start the dev stack`,
    );
  return { redisUrl: fromStack.redisUrl, brokers: [fromStack.kafkaBootstrap], consulAddr };
}

const log = createLogger("repair", { link: linkId });
const address = await addressOf(linkId);
const consul = consulClient(
  loadConfig(consulSettings, { ...process.env, CONSUL_HTTP_ADDR: address.consulAddr }),
);
// The repair writes to the comparator's audit trail, so it reads the comparator's settings for it.
const auditConfig = loadConfig({
  auditFile: comparatorSettings.auditFile,
  auditRetention: comparatorSettings.auditRetention,
});
const audit = new AuditLog(
  consul,
  auditConfig.auditFile,
  "repair",
  log,
  () => {},
  () => {},
  auditConfig.auditRetention,
);
const by = `operator:${args.operator}`;

async function readRouting(): Promise<RoutingDocument | null> {
  try {
    const item = (await consul.kv.get(CONSUL_KEYS.routing)) as { Value?: string } | null;
    return item?.Value ? (JSON.parse(item.Value) as RoutingDocument) : null;
  } catch (err) {
    refuse(`cannot read the routing from Consul (${(err as Error).message}): is ${linkId} active?`);
  }
}

const routing = await readRouting();
if (routing?.active === linkId && !args.force) {
  await audit.record({
    kind: "refused",
    by,
    reason: args.reason,
    link: linkId,
    evidence: { operation: mode, why: "the link is active", routingVersion: routing.version },
  });
  refuse(`${linkId} is the active link: fail over first, or give --force (break-glass, audited)`);
}

const link = new Redis(address.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
const scratchUrl = args.scratch ?? `${address.redisUrl.replace(/\/\d+$/, "")}/15`;
if (scratchUrl === address.redisUrl) refuse("--scratch must not be the link's own database");
const scratch = new Redis(scratchUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
const categories = new CategoryIndustry(args.categories, log);

let lastDrawn = 0;
function progress(p: RepairProgress): void {
  if (args["progress-json"]) {
    process.stdout.write(`${JSON.stringify({ progress: p })}\n`);
    return;
  }
  if (performance.now() - lastDrawn < 500 && p.stage === "recomputing") return;
  lastDrawn = performance.now();
  const eta = p.etaSeconds === null ? "" : `, ETA ${Math.ceil(p.etaSeconds)} s`;
  const line = `${p.stage}: ${p.recomputed.toLocaleString()} / ${p.total.toLocaleString()} records, ${Math.round(p.recordsPerSecond).toLocaleString()}/s${eta}; ${p.changed} values differ`;
  process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
}

let code: number = EXIT.failed;
try {
  await Promise.all([link.connect(), scratch.connect()]);
  const truth = args["from-truth"];
  const summary = await repairLink({
    mode,
    link,
    scratch,
    input: (upTo) => (truth ? truthFile(truth, upTo) : kafkaTopics(address.brokers, upTo)),
    tables: { category_industry: categories, seller_tier: new SellerTiers(link, 1_000_000, 0) },
    holder: { by, reason: args.reason },
    onProgress: progress,
  });
  const forced = routing?.active === linkId;
  await audit.record({
    kind: forced ? (`forced_${mode}` as const) : mode,
    by,
    reason: args.reason,
    link: linkId,
    evidence: { ...summary, source: truth ? `archive ${truth}` : "the link's Kafka" },
  });
  if (process.stderr.isTTY) process.stderr.write("\n");
  process.stdout.write(
    `${JSON.stringify({ summary })}\n` +
      (args["progress-json"]
        ? ""
        : `${mode}: ${linkId} equals the recompute of ${summary.recomputed.toLocaleString()} records; ${summary.changed} values rewritten (${summary.metrics.join(", ") || "no metrics"}); paused ${summary.pausedMs} ms\n`),
  );
  code = EXIT.repaired;
} catch (err) {
  const message = (err as Error).message;
  await audit.record({
    kind: "repair_failed",
    by,
    reason: args.reason,
    link: linkId,
    evidence: { operation: mode, error: message },
  });
  process.stderr.write(`\n${mode}: ${linkId} not repaired: ${message}\n`);
  if (args["progress-json"]) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  code = EXIT.failed;
} finally {
  categories.close();
  link.disconnect();
  scratch.disconnect();
  consul.destroy();
}
process.exit(code);
