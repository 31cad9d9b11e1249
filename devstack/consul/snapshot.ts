import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { SerialQueue } from "../../common/serialQueue.ts";
import type { KvEntry, Session, StoreState, Tombstone } from "./store.ts";

// The dev server's durability: the whole state as one JSON file, rewritten shortly after each change and
// once more on close. A write goes to a temp file that is synced and then renamed over the old one, so a
// crash leaves either the old snapshot or the new one, never half of one.

const FORMAT = "consul-dev-snapshot/1";

interface EntryRecord {
  key: string;
  value: string | null;
  flags: string;
  session: string;
  lockIndex: number;
  createIndex: number;
  modifyIndex: number;
}

interface SnapshotFile {
  format: typeof FORMAT;
  index: number;
  kvIndex: number;
  sessionsIndex: number;
  entries: EntryRecord[];
  tombstones: Tombstone[];
  sessions: Session[];
}

export function encodeSnapshot(state: StoreState): string {
  const file: SnapshotFile = {
    format: FORMAT,
    index: state.index,
    kvIndex: state.kvIndex,
    sessionsIndex: state.sessionsIndex,
    entries: state.entries.map((e) => ({
      ...e,
      value: e.value?.toString("base64") ?? null,
      flags: e.flags.toString(),
    })),
    tombstones: state.tombstones,
    sessions: state.sessions,
  };
  return `${JSON.stringify(file, null, 1)}\n`;
}

export function decodeSnapshot(text: string, source: string): StoreState {
  let file: SnapshotFile;
  try {
    file = JSON.parse(text) as SnapshotFile;
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const lists = [file?.entries, file?.tombstones, file?.sessions];
  if (file?.format !== FORMAT || !lists.every(Array.isArray))
    throw new Error(`${source}: not a ${FORMAT} file`);
  const entries: KvEntry[] = file.entries.map((e) => ({
    ...e,
    value: e.value === null ? null : Buffer.from(e.value, "base64"),
    flags: BigInt(e.flags),
  }));
  return {
    index: file.index,
    kvIndex: file.kvIndex,
    sessionsIndex: file.sessionsIndex,
    entries,
    tombstones: file.tombstones,
    sessions: file.sessions,
  };
}

/** The saved state, or undefined when there is no snapshot yet. A damaged file is an error, not a reset. */
export async function readSnapshot(file: string): Promise<StoreState | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return decodeSnapshot(text, file);
}

export class SnapshotWriter {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  // Writes run one after another so that an older state never lands after a newer one.
  private readonly queue = new SerialQueue();

  constructor(
    private readonly file: string,
    private readonly state: () => StoreState,
    private readonly delayMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Marks the state changed; the write follows within delayMs, however many changes come meanwhile. */
  schedule(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueue().catch(this.onError);
    }, this.delayMs);
  }

  /** Writes now if anything changed since the last write; rejects if the write fails. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.enqueue();
  }

  private enqueue(): Promise<void> {
    return this.queue.run(() => this.write());
  }

  private async write(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.file), { recursive: true });
      const handle = await open(tmp, "w");
      try {
        await handle.writeFile(encodeSnapshot(this.state()));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file);
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }
}
