/** What the right-click menus offer on the canvas, a node, a link and a group; each item is a label and an action. */
import { GROUP_COLORS, NODE_COLORS } from "../graph/colors";
import { removeLinks, removeNodes, updateNode } from "../graph/edit";
import { widgetSlots } from "../graph/spec";
import { createVirtualNode, insertReroute, type VirtualKind } from "../graph/virtual";
import { convertInputToWidget, convertWidgetToInput, isConverted } from "../graph/widgets";
import { findNode, type Workflow } from "../graph/workflow";
import { toggleCollapse, toggleMode } from "../state/commands";
import { commit, doc, selection } from "../state/document";
import { runtime } from "../state/runtime";
import { createStore } from "../state/store";

/** The node whose title the menu asked to edit, with a counter so asking twice edits twice. */
export const renameRequest = createStore<{ id: number; count: number }>({ id: -1, count: 0 });

export type MenuItem = { label: string; action?: () => void; items?: MenuItem[] };
export type Point = { x: number; y: number };

function addVirtual(kind: VirtualKind, at: Point): void {
  const [wf, node] = createVirtualNode(doc.get(), kind, [at.x, at.y]);
  commit(wf);
  selection.set(new Set([node.id]));
}

/** Canvas background: add a node through the search dialog, or one of the canvas-only nodes. */
export function canvasMenu(at: Point, openSearch: () => void): MenuItem[] {
  return [
    { label: "Add Node…", action: openSearch },
    { label: "Add Reroute", action: () => addVirtual("Reroute", at) },
    { label: "Add Note", action: () => addVirtual("Note", at) },
    { label: "Add Primitive", action: () => addVirtual("PrimitiveNode", at) },
  ];
}

function recolor(wf: Workflow, id: number, name: string | null): Workflow {
  return updateNode(wf, id, (n) => {
    const { color: _c, bgcolor: _b, ...rest } = n;
    return name ? { ...rest, ...NODE_COLORS[name] } : rest;
  });
}

function widgetItems(id: number): MenuItem[] {
  const node = findNode(doc.get(), id);
  const info = node && runtime.get().objectInfo[node.type];
  if (!node || !info) return [];
  const toInput = widgetSlots(info, node)
    .filter((s) => !isConverted(node, s.def.name))
    .map((s) => ({ label: `Convert ${s.def.name} to input`, action: () => commit(convertWidgetToInput(doc.get(), id, s)) }));
  const toWidget = node.inputs
    .filter((i) => i.widget)
    .map((i) => ({ label: `Convert ${i.widget!.name} to widget`, action: () => commit(convertInputToWidget(doc.get(), id, i.widget!.name)) }));
  return [...(toInput.length ? [{ label: "Convert Widget to Input", items: toInput }] : []), ...(toWidget.length ? [{ label: "Convert Input to Widget", items: toWidget }] : [])];
}

export function nodeMenu(id: number): MenuItem[] {
  const node = findNode(doc.get(), id);
  if (!node) return [];
  const pinned = !!node.flags.pinned;
  return [
    { label: "Title", action: () => renameRequest.set((r) => ({ id, count: r.count + 1 })) },
    ...widgetItems(id),
    {
      label: "Colors",
      items: [{ label: "No color", action: () => commit(recolor(doc.get(), id, null)) }, ...Object.keys(NODE_COLORS).map((name) => ({ label: name, action: () => commit(recolor(doc.get(), id, name)) }))],
    },
    { label: pinned ? "Unpin" : "Pin", action: () => commit(updateNode(doc.get(), id, (n) => ({ ...n, flags: { ...n.flags, pinned: !pinned } }))) },
    { label: node.flags.collapsed ? "Expand" : "Collapse", action: () => toggleCollapse(new Set([id])) },
    { label: node.mode === 2 ? "Unmute" : "Mute", action: () => toggleMode(new Set([id]), 2) },
    { label: node.mode === 4 ? "Un-bypass" : "Bypass", action: () => toggleMode(new Set([id]), 4) },
    { label: "Remove", action: () => commit(removeNodes(doc.get(), new Set([id]))) },
  ];
}

export function linkMenu(linkId: number, at: Point): MenuItem[] {
  return [
    { label: "Add Reroute", action: () => commit(insertReroute(doc.get(), linkId, [at.x, at.y])) },
    { label: "Delete", action: () => commit(removeLinks(doc.get(), new Set([linkId]))) },
  ];
}

function setGroupColor(index: number, color: string): void {
  const wf = doc.get();
  commit({ ...wf, groups: wf.groups.map((g, k) => (k === index ? { ...g, color } : g)) });
}

export function groupMenu(index: number): MenuItem[] {
  return [
    { label: "Color", items: Object.entries(GROUP_COLORS).map(([name, color]) => ({ label: name, action: () => setGroupColor(index, color) })) },
    { label: "Remove", action: () => commit({ ...doc.get(), groups: doc.get().groups.filter((_, k) => k !== index) }) },
  ];
}
