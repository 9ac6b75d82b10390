/** Model files a workflow says it needs (ComfyUI's UI format keeps `models: [{name, url, directory}]` in node
 * properties) and which of them this server lacks. */
import type { ObjectInfo } from "../api/types";
import type { Workflow } from "./workflow";

export type ModelNeed = { name: string; url: string; directory: string; sha256?: string };

function asNeed(raw: unknown): ModelNeed | null {
  const m = raw as Record<string, unknown> | null;
  if (!m || typeof m.name !== "string" || typeof m.url !== "string" || typeof m.directory !== "string") return null;
  const sha256 = m.hash_type === "SHA256" || m.hash_type === "sha256" ? String(m.hash ?? "") : "";
  return { name: m.name, url: m.url, directory: m.directory, ...(sha256 ? { sha256 } : {}) };
}

/** Every model the workflow's nodes list, once per folder and name. */
export function declaredModels(wf: Workflow): ModelNeed[] {
  const found = new Map<string, ModelNeed>();
  for (const node of wf.nodes) {
    const models = node.properties?.models;
    if (!Array.isArray(models)) continue;
    for (const need of models.map(asNeed)) if (need) found.set(`${need.directory}/${need.name}`, need);
  }
  return [...found.values()];
}

/** Every file name the server offers in any node's list (checkpoints, loras, vae, ...). */
function offeredFiles(objectInfo: ObjectInfo): Set<string> {
  const files = new Set<string>();
  for (const info of Object.values(objectInfo))
    for (const group of [info.input?.required, info.input?.optional])
      for (const spec of Object.values(group ?? {})) {
        const head = spec[0] === "COMBO" ? (spec[1] as { options?: unknown[] } | undefined)?.options : spec[0];
        if (Array.isArray(head)) for (const choice of head) if (typeof choice === "string") files.add(choice);
      }
  return files;
}

/** The declared models no node list offers: what must be downloaded before the workflow can run. */
export function missingModels(wf: Workflow, objectInfo: ObjectInfo): ModelNeed[] {
  const offered = offeredFiles(objectInfo);
  return declaredModels(wf).filter((m) => !offered.has(m.name));
}
