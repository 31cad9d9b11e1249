import { type Setting, str } from "./config.ts";

// How a service finds Consul, read the way Consul's own tools read it: CONSUL_HTTP_ADDR is host:port or
// http(s)://host:port, CONSUL_HTTP_TOKEN the ACL token.

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
};
