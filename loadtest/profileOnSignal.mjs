import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

// A CPU profile of a process started by someone else (the dev stack's supervisor), where `node --cpu-prof`
// cannot be passed (NODE_OPTIONS refuses it): preloaded with NODE_OPTIONS="--import <this>", it profiles a
// process whose entry ends with PROFILE_ENTRY from its start, and on SIGUSR2 writes the profile to
// PROFILE_DIR/<pid>.cpuprofile. Every other process and thread is left alone. Plain JavaScript: NODE_OPTIONS
// reaches worker threads too (the generator's), where no TypeScript loader is registered.

const entry = process.env.PROFILE_ENTRY;
const dir = process.env.PROFILE_DIR;
if (entry && dir && process.argv[1]?.endsWith(entry)) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable", () => session.post("Profiler.start"));
  process.once("SIGUSR2", () => {
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
