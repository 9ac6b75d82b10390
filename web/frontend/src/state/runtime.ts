/** What the server tells us while prompts run: node status, progress, previews, outputs, errors, queue, notices. */
import type { FileRef, ObjectInfo, QueueState } from "../api/types";
import { createStore } from "./store";

export type NodeRuntime = {
  running?: boolean;
  progress?: { value: number; max: number };
  preview?: string;
  outputs?: FileRef[];
  error?: string;
  inputErrors?: Record<string, string>;
};

export type Runtime = {
  objectInfo: ObjectInfo;
  connected: boolean;
  promptId: string | null;
  nodes: Record<string, NodeRuntime>;
  /** Progress of the running prompt: 0..1 and a short text (nodes done, time left). */
  overall: { fraction: number; text: string } | null;
  queue: QueueState;
  queueRemaining: number;
};

export const runtime = createStore<Runtime>({
  objectInfo: {},
  connected: false,
  promptId: null,
  nodes: {},
  overall: null,
  queue: { queue_running: [], queue_pending: [] },
  queueRemaining: 0,
});

export function patchNode(id: string, patch: Partial<NodeRuntime>): void {
  runtime.set((r) => ({ ...r, nodes: { ...r.nodes, [id]: { ...r.nodes[id], ...patch } } }));
}

/** Drop run-specific marks (running, progress, errors) before a new run; outputs stay until replaced. */
export function clearRunMarks(): void {
  runtime.set((r) => ({
    ...r,
    nodes: Object.fromEntries(Object.entries(r.nodes).map(([id, n]) => [id, { outputs: n.outputs }])),
  }));
}

export type Notice = { id: number; text: string; kind: "error" | "info" };

export const notices = createStore<Notice[]>([]);
let noticeId = 0;

/** Show a short message at the bottom of the canvas for a few seconds. */
export function notify(text: string, kind: Notice["kind"] = "info"): void {
  const id = ++noticeId;
  notices.set((list) => [...list.slice(-3), { id, text, kind }]);
  setTimeout(() => notices.set((list) => list.filter((n) => n.id !== id)), kind === "error" ? 8000 : 4000);
}
