/** Turns a dropped or opened file (workflow JSON, API JSON, PNG/WebP with embedded metadata) into a canvas workflow. */
import type { ObjectInfo } from "../api/types";
import { apiToWorkflow, isApiPrompt } from "../graph/layout";
import { pruneUnlinkedWidgetInputs, reconcileSockets } from "../graph/reconcile";
import { isUiWorkflow, normalizeWorkflow, type Workflow } from "../graph/workflow";
import { readEmbedded } from "./metadata";

/** Accept a parsed JSON value in UI or API format. */
export function workflowFromJson(value: unknown, objectInfo: ObjectInfo): Workflow {
  if (isUiWorkflow(value)) return reconcileSockets(pruneUnlinkedWidgetInputs(normalizeWorkflow(value), objectInfo), objectInfo);
  if (isApiPrompt(value)) return apiToWorkflow(value, objectInfo);
  throw new Error("This JSON is neither a canvas workflow nor an API prompt.");
}

/** An image without a workflow in it (a photo, a render from another tool). */
export class NoEmbeddedWorkflow extends Error {}

export async function workflowFromFile(name: string, bytes: Uint8Array, objectInfo: ObjectInfo): Promise<Workflow> {
  if (name.toLowerCase().endsWith(".json")) {
    return workflowFromJson(JSON.parse(new TextDecoder().decode(bytes)), objectInfo);
  }
  const embedded = await readEmbedded(bytes);
  const text = embedded.workflow ?? embedded.prompt;
  if (!text) throw new NoEmbeddedWorkflow(`${name} carries no embedded workflow.`);
  return workflowFromJson(JSON.parse(text), objectInfo);
}
