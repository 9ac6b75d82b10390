/** Editing commands: add a node, and on the selection: delete, copy/paste, select all, group, mute/bypass, collapse. */
import { copyNodes, pasteNodes, type Clip } from "../graph/clipboard";
import { connect, createNode, removeLinks, removeNodes, updateNode } from "../graph/edit";
import { attachSlot, type LooseLink } from "../graph/linking";
import { TITLE_HEIGHT, type NodeMode, type UiGroup, type Workflow } from "../graph/workflow";
import { commit, doc, edgeSelection, groupSelection, selection } from "./document";
import { runtime } from "./runtime";

const CLIP_KEY = "loom.clipboard";

export function deleteSelected(): void {
  let wf = doc.get();
  wf = removeLinks(wf, new Set([...edgeSelection.get()].map(Number)));
  wf = removeNodes(wf, selection.get());
  const groups = groupSelection.get();
  wf = { ...wf, groups: wf.groups.filter((_, k) => !groups.has(k)) };
  selection.set(new Set());
  edgeSelection.set(new Set());
  groupSelection.set(new Set());
  commit(wf);
}

export function copySelected(): void {
  if (selection.get().size) localStorage.setItem(CLIP_KEY, JSON.stringify(copyNodes(doc.get(), selection.get())));
}

export function paste(): void {
  const saved = localStorage.getItem(CLIP_KEY);
  if (!saved) return;
  const [wf, ids] = pasteNodes(doc.get(), JSON.parse(saved) as Clip, [40, 40]);
  commit(wf);
  selection.set(new Set(ids));
}

export function selectAll(): void {
  selection.set(new Set(doc.get().nodes.map((n) => n.id)));
}

/** A group framing the selected nodes (using their measured sizes), with room for its title. */
export function groupSelected(): void {
  const wf = doc.get();
  const nodes = wf.nodes.filter((n) => selection.get().has(n.id));
  if (!nodes.length) return;
  const pad = 20;
  const x = Math.min(...nodes.map((n) => n.pos[0])) - pad;
  const y = Math.min(...nodes.map((n) => n.pos[1])) - pad - 40;
  const right = Math.max(...nodes.map((n) => n.pos[0] + n.size[0])) + pad;
  const bottom = Math.max(...nodes.map((n) => n.pos[1] + n.size[1] + TITLE_HEIGHT)) + pad;
  const group: UiGroup = { title: "Group", bounding: [x, y, right - x, bottom - y], color: "#3f789e", font_size: 20 };
  commit({ ...wf, groups: [...wf.groups, group] });
}

/** Toggle mute (2) or bypass (4) on `ids`: all get it unless all already have it. */
export function toggleMode(ids: Set<number>, mode: NodeMode): void {
  const nodes = doc.get().nodes.filter((n) => ids.has(n.id));
  const target: NodeMode = nodes.every((n) => n.mode === mode) ? 0 : mode;
  commit({ ...doc.get(), nodes: doc.get().nodes.map((n) => (ids.has(n.id) ? { ...n, mode: target } : n)) });
}

export function toggleCollapse(ids: Set<number>): void {
  commit([...ids].reduce((wf: Workflow, id) => updateNode(wf, id, (n) => ({ ...n, flags: { ...n.flags, collapsed: !n.flags.collapsed } })), doc.get()));
}

/** Place a new node of `type` at canvas position `pos` and select it; a loose link gets attached to it. Returns its id. */
export function addNodeAt(type: string, pos: { x: number; y: number }, link?: LooseLink): number | null {
  const info = runtime.get().objectInfo[type];
  if (!info) return null;
  let [wf, node] = createNode(doc.get(), info, [pos.x, pos.y]);
  const slot = link ? attachSlot(info, link) : -1;
  if (link && slot >= 0) {
    const linked = link.end === "source" ? connect(wf, link.nodeId, link.slot, node.id, slot) : connect(wf, node.id, slot, link.nodeId, link.slot);
    if (typeof linked !== "string") wf = linked;
  }
  commit(wf);
  selection.set(new Set([node.id]));
  return node.id;
}
