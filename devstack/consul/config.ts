import { int, str } from "../../common/config.ts";
import { httpTimeoutSettings } from "../../common/httpTimeouts.ts";

// Settings of the Consul dev server process. The services find it through their own CONSUL_* settings.
export const consulDevSettings = {
  port: int({
    env: "CONSUL_DEV_PORT",
    default: 8500,
    min: 0,
    max: 65535,
    doc: "HTTP port of the Consul-compatible dev server; 0 picks a free port",
  }),
  host: str({ env: "CONSUL_DEV_HOST", default: "127.0.0.1", doc: "address the dev server listens on" }),
  dataFile: str({
    env: "CONSUL_DEV_DATA",
    default: ".devstack/consul/state.json",
    doc: "snapshot file: restored at start, rewritten shortly after every change and on shutdown",
  }),
  aclToken: str({
    env: "CONSUL_DEV_ACL_TOKEN",
    default: "",
    shownDefault: "(empty: ACLs off)",
    doc: "management token; when set, every call except /v1/status/* must present it",
  }),
  // No idle timeout: a blocking query waits up to ten minutes without a byte either way.
  requestTimeoutMs: httpTimeoutSettings.requestTimeoutMs,
};
