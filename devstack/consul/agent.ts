import { goJson, type Route, sendJson } from "./http.ts";

// /v1/agent/self: the parts clients read at start (datacenter, node name, version, member address) of a
// single server agent that is its own leader.

export const CONSUL_VERSION = "1.20.2";

export const agentRoutes: Route[] = [
  {
    pattern: "/v1/agent/self",
    methods: ["GET"],
    handle: (ctx) => {
      const { datacenter, nodeName, nodeId, serverAddress, aclEnabled } = ctx.settings;
      const [addr = "127.0.0.1", rpcPort = "8300"] = serverAddress.split(":");
      const index = String(ctx.store.raftIndex);
      const self = {
        Config: {
          Datacenter: datacenter,
          PrimaryDatacenter: datacenter,
          NodeName: nodeName,
          NodeID: nodeId,
          Revision: "devstack",
          Server: true,
          Version: CONSUL_VERSION,
        },
        Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 },
        Member: {
          Name: nodeName,
          Addr: addr,
          Port: 8301,
          Tags: {
            acls: aclEnabled ? "1" : "0",
            bootstrap: "1",
            build: `${CONSUL_VERSION}:devstack`,
            dc: datacenter,
            id: nodeId,
            port: rpcPort,
            raft_vsn: "3",
            role: "consul",
            segment: "",
            vsn: "2",
            vsn_max: "3",
            vsn_min: "2",
          },
          Status: 1,
          ProtocolMin: 1,
          ProtocolMax: 5,
          ProtocolCur: 2,
          DelegateMin: 2,
          DelegateMax: 5,
          DelegateCur: 4,
        },
        Meta: { "consul-network-segment": "" },
        Stats: {
          consul: {
            bootstrap: "true",
            known_datacenters: "1",
            leader: "true",
            leader_addr: serverAddress,
            server: "true",
          },
          raft: {
            applied_index: index,
            commit_index: index,
            last_log_index: index,
            num_peers: "0",
            state: "Leader",
          },
        },
      };
      sendJson(ctx.res, goJson(self));
    },
  },
];
