/** Applies React Flow's node/edge change events to the workflow document and the selection. */
import type { EdgeChange, NodeChange } from "@xyflow/react";
import { moveNodes } from "../graph/edit";
import { TITLE_HEIGHT, type UiNode, type Workflow } from "../graph/workflow";
import { VIRTUAL_TYPES } from "../graph/spec";
import { runtime } from "../state/runtime";
import { createStore } from "../state/store";
import { beginGesture, doc, endGesture, groupSelection, selection } from "../state/document";

export const groupId = (index: number) => `g${index}`;

type Size = { width: number; height: number };
/** Sizes React Flow measured for each node id; passed back on every node or React Flow keeps them hidden. */
export const measured = createStore<Map<string, Size>>(new Map());
const groupIndex = (id: string) => (id.startsWith("g") ? Number(id.slice(1)) : null);

/** Nodes whose top-left corner lies inside each dragged group, fixed when its drag starts. */
const dragMembers = new Map<number, number[]>();

function membersOf(wf: Workflow, index: number): number[] {
  const [x, y, w, h] = wf.groups[index].bounding;
  return wf.nodes.filter((n) => n.pos[0] >= x && n.pos[1] >= y && n.pos[0] <= x + w && n.pos[1] <= y + h).map((n) => n.id);
}

function moveGroup(wf: Workflow, index: number, x: number, y: number, moved: Set<number>): Workflow {
  if (!dragMembers.has(index)) dragMembers.set(index, membersOf(wf, index));
  const g = wf.groups[index];
  const dx = Math.round(x) - g.bounding[0];
  const dy = Math.round(y) - g.bounding[1];
  const moves = new Map<number, [number, number]>();
  for (const id of dragMembers.get(index)!) {
    const n = wf.nodes.find((m) => m.id === id);
    if (n && !moved.has(id)) moves.set(id, [n.pos[0] + dx, n.pos[1] + dy]);
  }
  const bounding: [number, number, number, number] = [g.bounding[0] + dx, g.bounding[1] + dy, g.bounding[2], g.bounding[3]];
  return { ...moveNodes(wf, moves), groups: wf.groups.map((gr, k) => (k === index ? { ...gr, bounding } : gr)) };
}

/** Only a node drawn with its real body has a size worth keeping (not collapsed, a Reroute's dot, or the
 * placeholder shown until node definitions arrive, which would otherwise ratchet heights up on every reload). */
function drawnInFull(n: UiNode): boolean {
  const known = !!runtime.get().objectInfo[n.type] || (VIRTUAL_TYPES.has(n.type) && n.type !== "Reroute");
  return known && !n.flags.collapsed;
}

export function applyNodeChanges(changes: NodeChange[]): void {
  let wf = doc.get();
  const moves = new Map<number, [number, number]>();
  const nodeSel = new Set(selection.get());
  const groupSel = new Set(groupSelection.get());
  let dragEnded = false;
  let sizes: Map<string, Size> | null = null;
  for (const c of changes) {
    if (c.type === "position") {
      if (c.dragging) beginGesture();
      else dragEnded = true;
      if (!c.position) continue;
      const g = groupIndex(c.id);
      if (g === null) moves.set(Number(c.id), [c.position.x, c.position.y]);
      else if (c.dragging) wf = moveGroup(wf, g, c.position.x, c.position.y, new Set(moves.keys()));
    } else if (c.type === "select") {
      const g = groupIndex(c.id);
      const target = g === null ? nodeSel : groupSel;
      const key = g === null ? Number(c.id) : g;
      if (c.selected) target.add(key);
      else target.delete(key);
    } else if (c.type === "dimensions" && c.dimensions) {
      sizes ??= new Map(measured.get());
      sizes.set(c.id, c.dimensions);
      if (groupIndex(c.id) !== null) continue;
      const { width, height } = c.dimensions;
      const id = Number(c.id);
      const size: [number, number] = [Math.round(width), Math.round(height) - TITLE_HEIGHT];
      const resized = (n: UiNode) => n.id === id && drawnInFull(n) && (n.size[0] !== size[0] || n.size[1] !== size[1]);
      wf = { ...wf, nodes: wf.nodes.map((n) => (resized(n) ? { ...n, size } : n)) };
    }
  }
  if (moves.size) wf = moveNodes(wf, moves);
  if (sizes) measured.set(sizes);
  if (wf !== doc.get()) doc.set(wf);
  if (dragEnded) {
    dragMembers.clear();
    endGesture();
  }
  if (!sameSet(nodeSel, selection.get())) selection.set(nodeSel);
  if (!sameSet(groupSel, groupSelection.get())) groupSelection.set(groupSel);
}

export function applyEdgeSelection(changes: EdgeChange[], current: Set<string>): Set<string> {
  const next = new Set(current);
  for (const c of changes) {
    if (c.type !== "select") continue;
    if (c.selected) next.add(c.id);
    else next.delete(c.id);
  }
  return sameSet(next, current) ? current : next;
}

function sameSet<T>(a: Set<T>, b: Set<T>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
