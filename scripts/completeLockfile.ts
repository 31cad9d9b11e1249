import { readFileSync, writeFileSync } from "node:fs";

// The package registry this project installs from serves only some of @biomejs/biome's per-platform binaries,
// so `npm install` leaves the others out of package-lock.json and `npm ci` then refuses the lock file. This
// adds the missing ones as optional entries for their platforms: npm never downloads them on a machine of
// another platform, but sees a complete lock. Run after changing dependencies: `npm run lock:complete`.

const LOCK = new URL("../package-lock.json", import.meta.url);
const PLATFORMS: Record<string, { os: string; cpu: string; libc?: string }> = {
  "cli-android-arm64": { os: "android", cpu: "arm64" },
  "cli-android-x64": { os: "android", cpu: "x64" },
  "cli-darwin-arm64": { os: "darwin", cpu: "arm64" },
  "cli-darwin-x64": { os: "darwin", cpu: "x64" },
  "cli-linux-arm64": { os: "linux", cpu: "arm64", libc: "glibc" },
  "cli-linux-arm64-musl": { os: "linux", cpu: "arm64", libc: "musl" },
  "cli-linux-x64": { os: "linux", cpu: "x64", libc: "glibc" },
  "cli-linux-x64-musl": { os: "linux", cpu: "x64", libc: "musl" },
  "cli-win32-arm64": { os: "win32", cpu: "arm64" },
  "cli-win32-x64": { os: "win32", cpu: "x64" },
};

type Entry = Record<string, unknown>;
const lock = JSON.parse(readFileSync(LOCK, "utf8")) as { packages: Record<string, Entry> };
const biome = lock.packages["node_modules/@biomejs/biome"];
if (!biome) throw new Error("package-lock.json has no @biomejs/biome");
let added = 0;
for (const [name, version] of Object.entries((biome.optionalDependencies ?? {}) as Record<string, string>)) {
  const path = `node_modules/${name}`;
  if (lock.packages[path]) continue;
  const platform = PLATFORMS[name.replace("@biomejs/", "")];
  if (!platform) throw new Error(`no platform known for ${name}: add it to PLATFORMS`);
  lock.packages[path] = {
    version,
    cpu: [platform.cpu],
    dev: true,
    ...(platform.libc ? { libc: [platform.libc] } : {}),
    license: biome.license,
    optional: true,
    os: [platform.os],
    engines: { node: ">=14.21.3" },
  };
  added++;
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform entries added`);
