/** API -> UI: builds a canvas workflow from an API prompt, placing nodes in layers from sources to outputs. */
import type { ApiPrompt, ObjectInfo } from "../api/types";
import { connect, createNode } from "./edit";
import { widgetSlots } from "./spec";
import { convertWidgetToInput, setWidgetValue } from "./widgets";
import { emptyWorkflow, type UiNode, type Workflow } from "./workflow";

const COLUMN = 340;
const ROW_GAP = 40;

export function isApiPrompt(value: unknown): value is ApiPrompt {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  const entries = Object.values(value as Record<string, unknown>);
  return entries.length > 0 && entries.every((n) => !!n && typeof n === "object" && "class_type" in (n as object));
}

function isLink(v: unknown): v is [string, number] {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "number";
}

function unwrap(v: unknown): unknown {
  return v && typeof v === "object" && "__value__" in (v as object) ? (v as { __value__: unknown }).__value__ : v;
}

/** Longest distance from a source node, so every node sits right of everything feeding it. */
function depths(prompt: ApiPrompt): Map<string, number> {
  const depth = new Map<string, number>();
  const visit = (id: string, trail: Set<string>): number => {
    if (depth.has(id)) return depth.get(id)!;
    if (trail.has(id) || !prompt[id]) return 0;
    trail.add(id);
    let d = 0;
    for (const v of Object.values(prompt[id].inputs ?? {})) if (isLink(v)) d = Math.max(d, visit(v[0], trail) + 1);
    trail.delete(id);
    depth.set(id, d);
    return d;
  };
  for (const id of Object.keys(prompt)) visit(id, new Set());
  return depth;
}

/** Unknown node types are refused with their names, since the canvas cannot draw their sockets. */
export function apiToWorkflow(prompt: ApiPrompt, objectInfo: ObjectInfo): Workflow {
  const missing = [...new Set(Object.values(prompt).map((n) => n.class_type).filter((t) => !objectInfo[t]))];
  if (missing.length) throw new Error(`Unknown node types: ${missing.join(", ")}`);
  const depth = depths(prompt);
  const columnY = new Map<number, number>();
  const ids = Object.keys(prompt).sort((a, b) => depth.get(a)! - depth.get(b)! || Number(a) - Number(b));
  let wf = emptyWorkflow();
  const made = new Map<string, UiNode>();
  for (const id of ids) {
    const api = prompt[id];
    const info = objectInfo[api.class_type];
    const col = depth.get(id)!;
    const y = columnY.get(col) ?? 0;
    let node: UiNode;
    [wf, node] = createNode(wf, info, [col * COLUMN, y], /^\d+$/.test(id) ? Number(id) : undefined);
    const slots = widgetSlots(info, node);
    const multiline = slots.filter((s) => s.def.options.multiline).length;
    const height = 60 + 26 * (node.inputs.length + node.outputs.length) + 36 * slots.length + 70 * multiline;
    columnY.set(col, y + height + ROW_GAP);
    for (const slot of slots) {
      const value = api.inputs?.[slot.def.name];
      if (isLink(value)) wf = convertWidgetToInput(wf, node.id, slot);
      else if (value !== undefined) wf = setWidgetValue(wf, node.id, slot, unwrap(value));
    }
    if (api._meta?.title && api._meta.title !== (info.display_name || info.name)) {
      wf = { ...wf, nodes: wf.nodes.map((n) => (n.id === node.id ? { ...n, title: api._meta!.title } : n)) };
    }
    made.set(id, node);
  }
  for (const id of ids) {
    const target = made.get(id)!;
    for (const [name, value] of Object.entries(prompt[id].inputs ?? {})) {
      if (!isLink(value) || !made.has(value[0])) continue;
      const current = wf.nodes.find((n) => n.id === target.id)!;
      const slot = current.inputs.findIndex((i) => i.name === name);
      if (slot < 0) continue;
      const next = connect(wf, made.get(value[0])!.id, value[1], target.id, slot);
      if (typeof next === "string") throw new Error(`Node ${id} input "${name}": ${next}`);
      wf = next;
    }
  }
  return wf;
}
