/** HTTP client for the Loom server (ComfyUI-compatible routes), retrying once with a token after a 401. */
import { askToken, authHeaders, withToken } from "./auth";
import type { ApiPrompt, FileRef, HistoryEntry, NodeError, NodeErrors, ObjectInfo, QueueState } from "./types";

/** POST /prompt refused the prompt (HTTP 400): the top-level error and each bad node's errors. */
export class PromptRejected extends Error {
  constructor(
    readonly error: NodeError,
    readonly nodeErrors: NodeErrors,
  ) {
    super(error.message + (error.details ? `: ${error.details}` : ""));
  }
}

async function request(path: string, init: RequestInit = {}, retried = false): Promise<Response> {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  if (res.status === 401 && !retried && (await askToken())) return request(path, init, true);
  return res;
}

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await request(path, init);
  if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${path} failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

function post(path: string, body: unknown): Promise<Response> {
  return request(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

export function fetchObjectInfo(): Promise<ObjectInfo> {
  return json<ObjectInfo>("/object_info");
}

export type Queued = { prompt_id: string; number: number; node_errors: NodeErrors };

export async function queuePrompt(prompt: ApiPrompt, workflow: unknown, clientId: string): Promise<Queued> {
  const res = await post("/prompt", { prompt, client_id: clientId, extra_data: { extra_pnginfo: { workflow } } });
  const body = await res.json().catch(() => ({}));
  if (res.status === 400) {
    throw new PromptRejected(body.error ?? { type: "error", message: "Prompt rejected" }, body.node_errors ?? {});
  }
  if (!res.ok) throw new Error(`POST /prompt failed: ${res.status}`);
  return body as Queued;
}

export function fetchQueue(): Promise<QueueState> {
  return json<QueueState>("/queue");
}

export async function deleteQueued(promptIds: string[]): Promise<void> {
  await post("/queue", { delete: promptIds });
}

export async function interrupt(): Promise<void> {
  await post("/interrupt", {});
}

export function fetchHistory(maxItems = 30): Promise<Record<string, HistoryEntry>> {
  return json<Record<string, HistoryEntry>>(`/history?max_items=${maxItems}`);
}

export async function uploadImage(file: File): Promise<FileRef> {
  const form = new FormData();
  form.append("image", file, file.name);
  const body = await json<{ name: string; subfolder?: string; type?: string }>("/upload/image", {
    method: "POST",
    body: form,
  });
  return { filename: body.name, subfolder: body.subfolder ?? "", type: body.type ?? "input" };
}

export function viewUrl(ref: FileRef): string {
  const q = new URLSearchParams({ filename: ref.filename, type: ref.type ?? "output", subfolder: ref.subfolder ?? "" });
  return withToken(`/view?${q}`);
}

/** One model download as the server reports it (POST answer and `loom.download` websocket events). */
export type DownloadState = { id: string; name: string; directory: string; downloaded: number; total: number | null; status: "downloading" | "done" | "exists" | "error"; error?: string };

export function startModelDownload(need: { url: string; directory: string; name: string; sha256?: string }): Promise<DownloadState> {
  return post("/models/download", need).then(async (res) => {
    if (!res.ok) throw new Error(await res.text());
    return (await res.json()) as DownloadState;
  });
}
