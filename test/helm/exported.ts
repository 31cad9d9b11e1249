import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Registry } from "prom-client";
import type { SettingsSpec } from "../../common/config.ts";
import { createMetricsRegistry } from "../../common/telemetry.ts";
import { comparatorSettings } from "../../comparator/config.ts";
import { comparatorMetrics } from "../../comparator/metrics.ts";
import { gatewaySettings } from "../../gateway/config.ts";
import { gatewayMetrics } from "../../gateway/metrics.ts";
import { processorSettings } from "../../processor/config.ts";
import { processorMetrics } from "../../processor/metrics.ts";

// What the services really export and read: their Prometheus series, built by the same registry and metric
// factories the services use, and the environment variables their settings declare or their code reads.

export const SERVICES = ["processor", "gateway", "comparator"] as const;
export type Service = (typeof SERVICES)[number];

export interface ExportedSeries {
  service: Service;
  /** Label names a selector on this series may use, the registry's default labels included. */
  labels: Set<string>;
}

/** Every series name each service exports: histograms as their _bucket, _sum and _count series. */
export async function exportedSeries(): Promise<Map<string, ExportedSeries>> {
  const out = new Map<string, ExportedSeries>();
  const registries: Record<Service, Registry> = {
    processor: createMetricsRegistry("processor", { link: "a" }),
    gateway: createMetricsRegistry("gateway"),
    comparator: createMetricsRegistry("comparator"),
  };
  processorMetrics(registries.processor);
  gatewayMetrics(registries.gateway, ["a"]);
  comparatorMetrics(registries.comparator, ["a"]);
  for (const service of SERVICES) {
    const registry = registries[service];
    const defaults = await defaultLabels(registry);
    for (const metric of registry.getMetricsAsArray()) {
      const { name, type } = metric as unknown as { name: string; type: string };
      const labels = new Set([
        ...defaults,
        ...((metric as unknown as { labelNames: string[] }).labelNames ?? []),
      ]);
      const add = (series: string, extra: string[] = []) =>
        out.set(series, { service, labels: new Set([...labels, ...extra]) });
      if (type === "histogram") {
        add(`${name}_bucket`, ["le"]);
        add(`${name}_sum`);
        add(`${name}_count`);
      } else if (type === "summary") {
        add(name, ["quantile"]);
        add(`${name}_sum`);
        add(`${name}_count`);
      } else {
        add(name);
      }
    }
  }
  return out;
}

/** The labels the registry puts on every series (service, and link on a processor). */
async function defaultLabels(registry: Registry): Promise<string[]> {
  const metrics = await registry.getMetricsAsJSON();
  const sample = metrics.find((m) => m.name === "process_cpu_user_seconds_total")?.values[0];
  if (!sample) throw new Error("no default process metric to read the default labels from");
  return Object.keys(sample.labels);
}

const SETTINGS: Record<Service, SettingsSpec> = {
  processor: processorSettings,
  gateway: gatewaySettings,
  comparator: comparatorSettings,
};

/** Per-link variables (common/links.ts) each service reads, as the chart writes them: NAME_<ID>. */
const LINK_VARIABLES: Record<Service, string[]> = {
  processor: [],
  gateway: ["REDIS_URL_<ID>"],
  comparator: ["KAFKA_BROKERS_<ID>", "REDIS_URL_<ID>"],
};

/** Environment variables a service acts on: its settings, what its code and common/ read, its link addresses. */
export function serviceEnvironment(service: Service, root: string): Set<string> {
  const names = new Set(Object.values(SETTINGS[service]).map((s) => s.env));
  for (const dir of ["common", service]) {
    for (const file of readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".ts")) continue;
      const source = readFileSync(join(root, dir, file), "utf8");
      for (const m of source.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1] as string);
    }
  }
  for (const name of LINK_VARIABLES[service]) names.add(name);
  return names;
}

/** Settings a service cannot start without. */
export function requiredSettings(service: Service): string[] {
  return Object.values(SETTINGS[service])
    .filter((s) => s.default === undefined)
    .map((s) => s.env);
}
