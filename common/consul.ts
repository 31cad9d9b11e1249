import Consul from "consul";
import { duration, type Setting, str } from "./config.ts";

// How a service finds and calls Consul. CONSUL_HTTP_ADDR is read the way Consul's own tools read it (host:port
// or http(s)://host:port), CONSUL_HTTP_TOKEN is the ACL token, and every client is built by `consulClient`.

export interface ConsulAddress {
  host: string;
  port: number;
  secure: boolean;
}

const ADDRESS = /^(?:(https?):\/\/)?([^:/\s]+):(\d{1,5})\/?$/;

export function parseConsulAddress(raw: string): ConsulAddress {
  const m = ADDRESS.exec(raw);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new Error("must be host:port or http(s)://host:port");
  return { host: m[2] as string, port, secure: m[1] === "https" };
}

/** The address as CONSUL_HTTP_ADDR, for a child process. */
export function consulAddressText(a: ConsulAddress): string {
  return `${a.secure ? "https" : "http"}://${a.host}:${a.port}`;
}

const consulAddressSetting: Setting<ConsulAddress> = {
  env: "CONSUL_HTTP_ADDR",
  default: { host: "127.0.0.1", port: 8500, secure: false },
  shownDefault: '"127.0.0.1:8500"',
  doc: "Consul agent address, host:port or http(s)://host:port.",
  parse: parseConsulAddress,
};

export const consulSettings = {
  consul: consulAddressSetting,
  consulToken: str({
    env: "CONSUL_HTTP_TOKEN",
    default: "",
    shownDefault: "(empty: no token)",
    doc: "Consul ACL token sent with every call.",
  }),
  consulTimeoutMs: duration({
    env: "CONSUL_TIMEOUT",
    default: 2_000,
    shownDefault: "2s",
    min: 100,
    doc: "Bound on a Consul call (a blocking watch sets its own, just above its wait): the leader lock's renewals, routing writes, audit, acknowledgements. Under a third of COMPARATOR_SESSION_TTL, so a hung renewal fails before the session lapses.",
  }),
};

/** The papi client under `consul` honours `timeout` for every call that sets none; its typings leave it out. */
type ClientOptions = ConstructorParameters<typeof Consul>[0] & { timeout: number };

export function consulClient(c: {
  consul: ConsulAddress;
  consulToken: string;
  consulTimeoutMs: number;
}): Consul {
  const options: ClientOptions = {
    ...c.consul,
    defaults: c.consulToken ? { token: c.consulToken } : {},
    timeout: c.consulTimeoutMs,
  };
  return new Consul(options);
}
