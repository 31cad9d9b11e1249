import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, describeConfig, loadConfig } from "../../common/config.ts";
import { linkEnvName } from "../../common/links.ts";
import { createLogger } from "../../common/logger.ts";
import { supervisorSettings } from "./config.ts";
import { alive } from "./linkServices.ts";
import { inOwnGroup, onParentGone, runInOwnGroup } from "./ownGroup.ts";
import { missingPrerequisites } from "./prerequisites.ts";
import { Stack } from "./stack.ts";
import { readStackFile, removeStackFile, STACK_FILE, writeStackFile } from "./stackFile.ts";
import { renderTable } from "./table.ts";

// `npm start`: the whole dev stack on one machine, kept running until Ctrl-C or SIGTERM, which stop it in
// reverse order of start and exit 0 with nothing left behind. Exit 1: the stack could not be started (the
// message says why); exit 2: bad configuration or a missing prerequisite.

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OWN_GROUP_FLAG = "ONESERVICE_SUPERVISOR_IN_OWN_GROUP";
const log = createLogger("supervisor");

function fail(code: number, message: string): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(code);
}

async function otherSupervisor(stackFile: string): Promise<number | null> {
  try {
    const { pid } = await readStackFile(stackFile);
    return pid !== process.pid && alive(pid) ? pid : null;
  } catch {
    return null;
  }
}

async function supervise(): Promise<void> {
  if (process.argv.includes("--help")) {
    process.stdout.write(
      `npm start: the OneService HA dev stack\n\n${describeConfig(supervisorSettings)}\n` +
        "| `KAFKA_BROKERS_<ID>` | (unset) | a real Kafka for link <ID>: no embedded one is started |\n" +
        "| `REDIS_URL_<ID>` | (unset) | a running Redis for link <ID>: no redis-server is started |\n",
    );
    return;
  }
  let config: ReturnType<typeof loadConfig<typeof supervisorSettings>>;
  try {
    config = loadConfig(supervisorSettings);
  } catch (err) {
    if (err instanceof ConfigError) fail(2, err.message);
    throw err;
  }
  const missing = missingPrerequisites({
    embeddedKafka: config.links.some((id) => !process.env[linkEnvName("KAFKA_BROKERS", id)]),
    embeddedRedis: config.links.some((id) => !process.env[linkEnvName("REDIS_URL", id)]),
  });
  if (missing.length > 0) fail(2, `missing prerequisites:\n  ${missing.join("\n  ")}`);

  const dir = resolve(config.dir);
  const stackFile = join(dir, STACK_FILE);
  const other = await otherSupervisor(stackFile);
  if (other !== null)
    fail(
      1,
      `another dev stack is running (supervisor pid ${other}, see ${stackFile}): stop it with \`kill ${other}\`, or give this one another DEVSTACK_DIR and ports`,
    );

  let writes = Promise.resolve();
  const saveStackFile = () => {
    writes = writes
      .then(() => writeStackFile(stackFile, stack.describe()))
      .catch((err: unknown) => log.error({ err, file: stackFile }, "stack.json could not be written"));
    return writes;
  };
  const stack = new Stack({ config, root: ROOT, dir, log, onChange: () => void saveStackFile() });

  let stopping: Promise<void> | undefined;
  const stop = (why: string, code: number) => {
    stopping ??= (async () => {
      log.info({ why }, "stopping the dev stack");
      await stack.stop();
      await writes;
      await removeStackFile(stackFile);
      log.info("dev stack stopped");
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(signal, () => void stop(signal, 0));
  onParentGone(() => void stop("the parent process is gone", 0));
  process.on("uncaughtException", (err) => {
    log.fatal({ err }, "supervisor failed");
    void stop("supervisor error", 1);
  });

  log.info({ links: config.links, dir }, "starting the dev stack");
  try {
    await stack.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, "the dev stack could not be started");
    process.stderr.write(`npm start: ${(err as Error).message}\n`);
    await stop("start failed", 1);
    return;
  }
  if (stopping) return;
  await saveStackFile();
  process.stdout.write(`\n${renderTable(stack.describe(), { stackFile, logs: join(dir, "logs") })}\n`);
}

if (inOwnGroup(OWN_GROUP_FLAG)) await supervise();
else runInOwnGroup(fileURLToPath(import.meta.url), ROOT, OWN_GROUP_FLAG);
