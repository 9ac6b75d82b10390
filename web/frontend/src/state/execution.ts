/** Applies websocket events to the runtime state: running node, step progress, previews, outputs and errors. */
import { fetchQueue } from "../api/client";
import type { Preview, WsMessage } from "../api/socket";
import type { FileRef } from "../api/types";
import type { DownloadState } from "../api/client";
import { recordDownload } from "./downloads";
import { clearRunMarks, notify, patchNode, runtime } from "./runtime";

let previewUrl: string | null = null;
const promptSizes = new Map<string, number>();
/** Nodes of the running prompt that are done (cached or finished), for overall progress when the server sends no summary. */
const doneNodes = new Set<string>();

/** Remember how many nodes a queued prompt runs, so overall progress has a denominator. */
export function expectPrompt(promptId: string, nodeCount: number): void {
  promptSizes.set(promptId, nodeCount);
}

/** Every file a node's UI output lists (images, gifs, videos...), in order. */
export function outputFiles(output: Record<string, unknown>): FileRef[] {
  const files: FileRef[] = [];
  for (const value of Object.values(output ?? {})) {
    if (!Array.isArray(value)) continue;
    for (const item of value) if (item && typeof item === "object" && "filename" in item) files.push(item as FileRef);
  }
  return files;
}

function runningNode(): string | null {
  const entry = Object.entries(runtime.get().nodes).find(([, n]) => n.running);
  return entry ? entry[0] : null;
}

function stopRunning(): void {
  const id = runningNode();
  if (!id) return;
  doneNodes.add(id);
  patchNode(id, { running: false, progress: undefined, preview: undefined });
}

function countOverall(promptId: string): void {
  const total = Math.max(promptSizes.get(promptId) ?? 0, doneNodes.size, 1);
  runtime.set((r) => ({ ...r, overall: { fraction: doneNodes.size / total, text: `${doneNodes.size}/${total} nodes` } }));
}

type ServerOverall = { nodes_done: number; nodes_total: number; fraction: number; eta_s?: number | null };

export function handleMessage(msg: WsMessage): void {
  const d = msg.data ?? {};
  switch (msg.type) {
    case "loom.download":
      recordDownload(d as DownloadState);
      break;
    case "status": {
      const info = (d.status as { exec_info?: { queue_remaining?: number } })?.exec_info;
      runtime.set((r) => ({ ...r, queueRemaining: info?.queue_remaining ?? 0 }));
      fetchQueue()
        .then((queue) => runtime.set((r) => ({ ...r, queue })))
        .catch(() => undefined);
      break;
    }
    case "execution_start":
      clearRunMarks();
      doneNodes.clear();
      runtime.set((r) => ({ ...r, promptId: String(d.prompt_id), overall: null }));
      break;
    case "execution_cached":
      for (const id of (d.nodes ?? []) as string[]) doneNodes.add(String(id));
      countOverall(String(d.prompt_id));
      break;
    case "executing":
      stopRunning();
      if (d.node == null) runtime.set((r) => ({ ...r, promptId: null, overall: null }));
      else {
        patchNode(String(d.display_node ?? d.node), { running: true, error: undefined });
        countOverall(String(d.prompt_id));
      }
      break;
    case "progress":
      patchNode(String(d.node ?? runningNode()), { progress: { value: Number(d.value), max: Number(d.max) } });
      break;
    case "progress_state": {
      const o = d.overall as ServerOverall | undefined;
      if (!o) break;
      const eta = o.eta_s != null && o.fraction < 1 ? `, ~${Math.ceil(o.eta_s)} s left` : "";
      runtime.set((r) => ({ ...r, overall: { fraction: o.fraction, text: `${o.nodes_done}/${o.nodes_total} nodes${eta}` } }));
      break;
    }
    case "executed":
      patchNode(String(d.display_node ?? d.node), { outputs: outputFiles(d.output as Record<string, unknown>) });
      break;
    case "execution_error":
      stopRunning();
      patchNode(String(d.node_id), { error: `${String(d.exception_type ?? "Error").split(".").pop()}: ${d.exception_message ?? ""}` });
      notify(`${d.node_type ?? "Node"} #${d.node_id} failed: ${d.exception_message ?? ""}`, "error");
      break;
    case "execution_interrupted":
      stopRunning();
      notify("Run interrupted.");
      break;
  }
}

/** A latent preview frame belongs to the node currently running. */
export function handlePreview(preview: Preview): void {
  const id = runningNode();
  if (!id) return;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(new Blob([preview.bytes as BlobPart], { type: preview.mime }));
  patchNode(id, { preview: previewUrl });
}
