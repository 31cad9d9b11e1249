import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import Consul from "consul";
import {
  type ConsulDevServer,
  type ConsulDevServerOptions,
  startConsulDevServer,
} from "../../devstack/consul/server.ts";
import type { Clock } from "../../devstack/consul/store.ts";

export const NODE = "test-node";

export interface Harness {
  server: ConsulDevServer;
  consul: Consul;
  dir: string;
  dataFile: string;
  stop(): Promise<void>;
}

/** A dev server on a free port with its snapshot in a fresh temp dir, and an npm `consul` client for it. */
async function startHarness(options: ConsulDevServerOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "consul-dev-test-"));
  const dataFile = options.dataFile ?? join(dir, "state.json");
  const server = await startConsulDevServer({ port: 0, nodeName: NODE, dataFile, ...options });
  const consul = clientFor(server, options.aclToken);
  return {
    server,
    consul,
    dir,
    dataFile,
    stop: async () => {
      consul.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A harness for the enclosing describe block: started before its tests, stopped after them. */
export function useHarness(options: ConsulDevServerOptions = {}): Harness {
  const h = {} as Harness;
  before(async () => {
    Object.assign(h, await startHarness(options));
  });
  after(() => h.stop());
  return h;
}

export function clientFor(server: ConsulDevServer, token?: string): Consul {
  return new Consul({ host: "127.0.0.1", port: server.port, defaults: token ? { token } : {} });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

export async function raw(
  server: ConsulDevServer,
  method: string,
  path: string,
  init: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const res = await fetch(`${server.url}${path}`, { method, body: init.body, headers: init.headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export function indexOf(r: RawResponse): number {
  return Number(r.headers.get("x-consul-index"));
}

/** A clock that only moves when told to, firing due timers in order. */
export class ManualClock implements Clock {
  private current = 1_700_000_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.seq += 1;
    this.timers.set(this.seq, { at: this.current + ms, fn });
    return this.seq;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const t of this.timers) if (t[1].at <= end && (!due || t[1].at < due[1].at)) due = t;
      if (!due) break;
      this.timers.delete(due[0]);
      this.current = due[1].at;
      due[1].fn();
    }
    this.current = end;
  }
}

/** Resolves with the first event `emitter` emits for which `accept` holds; rejects after `ms`. */
export function nextEvent<T>(
  emitter: NodeJS.EventEmitter,
  event: string,
  accept: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no matching "${event}" event within ${ms}ms`));
    }, ms);
    const on = (value: T) => {
      if (!accept(value)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(value);
    };
    emitter.on(event, on);
  });
}

/** True when `promise` has not settled after `ms`: what a correctly blocked request looks like, however slow the machine. */
export async function stillPending(promise: Promise<unknown>, ms = 150): Promise<boolean> {
  const timeout = new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms));
  return (await Promise.race([promise.then(() => "settled"), timeout])) === "pending";
}
