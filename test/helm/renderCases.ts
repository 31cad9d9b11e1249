import { join } from "node:path";
import { CHART } from "./chart.ts";

// The values the chart is rendered with in the tests: every example as its install line gives it, and values
// that switch each optional part on (or a default part off), each naming the objects that part adds or
// removes, so that a switch which stopped working fails its case.

/** What an install on the chart's own Secrets must give (the examples' install lines). */
const INSTALL = set(
  "consul.address=consul-server.consul:8500",
  "auth.adminToken=admin-token-1",
  "auth.apiKeys.screen=screen-key-1",
);
const THREE_ZONES = join(CHART, "examples", "three-zones.yaml");
const TRY_IT_OUT = join(CHART, "examples", "try-it-out.yaml");

/** `--set` arguments. */
function set(...pairs: string[]): string[] {
  return pairs.flatMap((p) => ["--set", p]);
}

export interface RenderCase {
  name: string;
  /** helm template's arguments after the chart: --values, --set... */
  args: string[];
  /** Link ids of the values, to read per-link variable names. */
  links: string[];
  /** kind/name (the release is "oneservice") of objects the case must render, and must not. */
  present: string[];
  absent: string[];
}

export const RENDER_CASES: RenderCase[] = [
  {
    name: "examples/three-zones.yaml",
    args: ["--values", THREE_ZONES],
    links: ["a", "b", "c"],
    present: [
      "Deployment/oneservice-processor-c",
      "HorizontalPodAutoscaler/oneservice-gateway",
      "ServiceMonitor/oneservice",
    ],
    absent: ["Secret/oneservice-consul", "Secret/oneservice-auth", "StatefulSet/oneservice-redis-a"],
  },
  {
    name: "examples/try-it-out.yaml",
    args: ["--values", TRY_IT_OUT, ...INSTALL],
    links: ["a", "b"],
    present: [
      "StatefulSet/oneservice-redis-a",
      "StatefulSet/oneservice-redis-b-replica",
      "Secret/oneservice-consul",
    ],
    absent: ["HorizontalPodAutoscaler/oneservice-gateway", "Deployment/oneservice-processor-c"],
  },
  {
    name: "the k6 peak test from an archive",
    args: [
      "--values",
      TRY_IT_OUT,
      ...INSTALL,
      ...set("loadtest.enabled=true", "loadtest.archive=UEsDBA==", "loadtest.env.API_KEY=screen-key-1"),
    ],
    links: ["a", "b"],
    present: ["TestRun/oneservice-peak", "ConfigMap/oneservice-k6-peak"],
    absent: [],
  },
  {
    name: "the k6 peak test from an existing ConfigMap",
    args: [
      "--values",
      TRY_IT_OUT,
      ...INSTALL,
      ...set("loadtest.enabled=true", "loadtest.existingConfigMap=peak-archive"),
    ],
    links: ["a", "b"],
    present: ["TestRun/oneservice-peak"],
    absent: ["ConfigMap/oneservice-k6-peak"],
  },
  {
    name: "the seller-tier loader",
    // --set would read the braces as a list; the value is a JSON text.
    args: ["--values", THREE_ZONES, "--set-json", 'dimensions.sellerTier="{\\"s-1\\":\\"gold\\"}"'],
    links: ["a", "b", "c"],
    present: [
      "ConfigMap/oneservice-seller-tier",
      "Job/oneservice-seller-tiers-a",
      "Job/oneservice-seller-tiers-c",
    ],
    absent: [],
  },
  {
    name: "bundled Redis without its replica, the dimensions from an existing ConfigMap",
    args: [
      "--values",
      TRY_IT_OUT,
      ...INSTALL,
      ...set("bundledRedis.replica=false", "dimensions.existingConfigMap=dims"),
    ],
    links: ["a", "b"],
    present: ["StatefulSet/oneservice-redis-a"],
    absent: ["StatefulSet/oneservice-redis-a-replica", "ConfigMap/oneservice-dimensions"],
  },
  {
    name: "monitoring, network policies and the autoscaler off",
    args: [
      "--values",
      THREE_ZONES,
      ...set(
        "monitoring.serviceMonitor.enabled=false",
        "monitoring.prometheusRule.enabled=false",
        "monitoring.dashboard.enabled=false",
        "networkPolicy.enabled=false",
        "gateway.autoscaling.enabled=false",
      ),
    ],
    links: ["a", "b", "c"],
    present: ["Deployment/oneservice-gateway"],
    absent: [
      "ServiceMonitor/oneservice",
      "PrometheusRule/oneservice",
      "ConfigMap/oneservice-dashboard",
      "NetworkPolicy/oneservice-gateway",
      "HorizontalPodAutoscaler/oneservice-gateway",
    ],
  },
];
