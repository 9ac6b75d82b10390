/** User commands that touch the server or several stores: queue the workflow, load files, save to disk. */
import { fetchObjectInfo, PromptRejected, queuePrompt, uploadImage } from "../api/client";
import type { NodeErrors } from "../api/types";
import { workflowToApi } from "../graph/convert";
import { missingModels } from "../graph/models";
import { widgetSlots } from "../graph/spec";
import { applyControlAfterGenerate, setWidgetValue } from "../graph/widgets";
import { NoEmbeddedWorkflow, workflowFromFile } from "../files/load";
import { addNodeAt } from "./commands";
import { commit, doc, replaceWorkflow } from "./document";
import { missingModelsAsked } from "./downloads";
import { expectPrompt } from "./execution";
import { notify, runtime } from "./runtime";

let clientId = "";

export function setClientId(id: string): void {
  clientId = id;
}

export async function refreshObjectInfo(): Promise<void> {
  const objectInfo = await fetchObjectInfo();
  runtime.set((r) => ({ ...r, objectInfo }));
}

/** Mark each bad input of each bad node from a validation answer. */
function markNodeErrors(nodeErrors: NodeErrors): void {
  runtime.set((r) => {
    const nodes = { ...r.nodes };
    for (const [id, entry] of Object.entries(nodeErrors)) {
      const inputErrors: Record<string, string> = {};
      const general: string[] = [];
      for (const e of entry.errors) {
        const name = e.extra_info?.input_name;
        const text = e.details ? `${e.message}: ${e.details}` : e.message;
        if (typeof name === "string") inputErrors[name] = text;
        else general.push(text);
      }
      nodes[id] = { ...nodes[id], inputErrors, error: general.join("\n") || undefined };
    }
    return { ...r, nodes };
  });
}

function clearErrors(): void {
  runtime.set((r) => ({
    ...r,
    nodes: Object.fromEntries(
      Object.entries(r.nodes).map(([id, n]) => [id, { ...n, error: undefined, inputErrors: undefined }]),
    ),
  }));
}

/** Convert, POST /prompt with the UI workflow embedded, then advance seeds (control_after_generate). */
export async function queueWorkflow(): Promise<void> {
  const wf = doc.get();
  const { objectInfo } = runtime.get();
  const prompt = workflowToApi(wf, objectInfo);
  if (Object.keys(prompt).length === 0) {
    notify("Nothing to queue: add some nodes first.", "error");
    return;
  }
  clearErrors();
  try {
    const queued = await queuePrompt(prompt, wf, clientId);
    expectPrompt(queued.prompt_id, Object.keys(prompt).length);
    if (Object.keys(queued.node_errors ?? {}).length) markNodeErrors(queued.node_errors);
    notify(`Queued prompt #${queued.number}.`);
    commit(applyControlAfterGenerate(doc.get(), objectInfo));
  } catch (err) {
    if (err instanceof PromptRejected) markNodeErrors(err.nodeErrors);
    if (missingModels(wf, objectInfo).length) missingModelsAsked.set((n) => n + 1);
    notify(err instanceof Error ? err.message : String(err), "error");
  }
}

/** Upload a plain image and put a LoadImage node showing it at `pos`. */
async function addImageNode(file: File, pos: { x: number; y: number }): Promise<void> {
  const ref = await uploadImage(file);
  await refreshObjectInfo();
  const id = addNodeAt("LoadImage", pos);
  const info = runtime.get().objectInfo.LoadImage;
  const slot = info && id !== null ? widgetSlots(info).find((s) => s.def.imageUpload) : undefined;
  if (!slot || id === null) throw new Error("this server has no LoadImage node");
  commit(setWidgetValue(doc.get(), id, slot, ref.subfolder ? `${ref.subfolder}/${ref.filename}` : ref.filename));
  notify(`Uploaded ${file.name} into a Load Image node.`);
}

/** Load a workflow file; an image without one becomes a LoadImage node at `dropAt` (when dropped on the canvas). */
export async function openFile(file: File, dropAt?: { x: number; y: number }): Promise<void> {
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      replaceWorkflow(await workflowFromFile(file.name, bytes, runtime.get().objectInfo));
    } catch (err) {
      if (!(err instanceof NoEmbeddedWorkflow && dropAt)) throw err;
      return await addImageNode(file, dropAt);
    }
    clearErrors();
    notify(`Loaded ${file.name}.`);
  } catch (err) {
    notify(`Could not load ${file.name}: ${err instanceof Error ? err.message : String(err)}`, "error");
  }
}

export function saveWorkflow(): void {
  const blob = new Blob([JSON.stringify(doc.get(), null, 2)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "workflow.json";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
