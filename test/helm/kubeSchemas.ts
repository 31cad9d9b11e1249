import * as prometheusOperator from "@kubernetes-models/prometheus-operator";
import * as kubernetes from "kubernetes-models";
import type { KubeObject } from "./helm.ts";

// Every rendered object checked against the OpenAPI schema of its kind: Kubernetes' own (kubernetes-models)
// and the Prometheus operator's ServiceMonitor and PrometheusRule (@kubernetes-models/prometheus-operator).
// A kind neither package knows is reported, so a new kind in the chart is a decision, not a silent pass.

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

const isModel = (v: unknown): v is ModelClass =>
  typeof v === "function" &&
  typeof (v as Partial<ModelClass>).apiVersion === "string" &&
  typeof (v as Partial<ModelClass>).kind === "string";

/** apiVersion/kind -> model, from both packages' group/version namespaces. */
function registry(): Map<string, ModelClass> {
  const models = new Map<string, ModelClass>();
  const visit = (node: unknown, depth: number) => {
    if (isModel(node)) models.set(`${node.apiVersion}/${node.kind}`, node);
    else if (node && typeof node === "object" && depth < 4)
      for (const child of Object.values(node)) visit(child, depth + 1);
  };
  visit(kubernetes, 0);
  visit(prometheusOperator, 0);
  return models;
}

const MODELS = registry();

/** What is wrong with the object by its schema, "" when nothing; null when no schema knows its kind. */
export function schemaProblem(object: KubeObject): string | null {
  const model = MODELS.get(`${object.apiVersion}/${object.kind}`);
  if (!model) return null;
  try {
    new model(object).validate();
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}
