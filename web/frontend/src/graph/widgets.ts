/** Widget values: setting them, seed control after each queue, and converting a widget to an input socket and back. */
import type { ObjectInfo } from "../api/types";
import { removeLinks, updateNode } from "./edit";
import { widgetSlots, type ControlMode, type InputDef, type WidgetSlot } from "./spec";
import { findNode, type UiNode, type Workflow } from "./workflow";

/** Largest seed a randomize step picks (2^50): keeps values exact as JS numbers and valid for the engine. */
const RANDOM_MAX = 1125899906842624;

function withValue(node: UiNode, key: number | string, value: unknown): UiNode {
  if (Array.isArray(node.widgets_values)) {
    const values = [...node.widgets_values];
    values[key as number] = value;
    return { ...node, widgets_values: values };
  }
  return { ...node, widgets_values: { ...node.widgets_values, [key]: value } };
}

/** Snap to the declared step (from min) and clamp to min/max; INT values become integers. */
export function normalizeNumber(def: InputDef, raw: number): number {
  const { min = -Infinity, max = Infinity, step, round } = def.options;
  let v = Number.isFinite(raw) ? raw : Number(def.options.default ?? 0);
  if (def.widget === "INT") v = Math.round(v);
  const snap = typeof round === "number" && round > 0 ? round : def.widget === "INT" ? step : undefined;
  const base = Number.isFinite(min) ? min : 0;
  if (snap && snap > 0) v = Math.round((v - base) / snap) * snap + base;
  if (def.widget === "FLOAT") v = Number(v.toFixed(10));
  return Math.min(Math.max(v, min), max);
}

export function setWidgetValue(wf: Workflow, nodeId: number, slot: WidgetSlot, value: unknown): Workflow {
  return updateNode(wf, nodeId, (n) => withValue(n, Array.isArray(n.widgets_values) ? slot.index : slot.def.name, value));
}

export function setControlMode(wf: Workflow, nodeId: number, slot: WidgetSlot, mode: ControlMode): Workflow {
  if (slot.controlIndex === null) return wf;
  return updateNode(wf, nodeId, (n) => withValue(n, slot.controlIndex!, mode));
}

/** The value a controlled number widget takes after one queue. */
function nextControlledValue(value: number, mode: string, slot: WidgetSlot, random: () => number): number {
  const { min = 0, max = RANDOM_MAX, step = 1 } = slot.def.options;
  const lo = Math.max(min, 0);
  const hi = Math.min(max, RANDOM_MAX);
  let next = value;
  if (mode === "increment") next = value + step;
  else if (mode === "decrement") next = value - step;
  else if (mode === "randomize") next = lo + Math.floor(random() * (hi - lo + 1));
  return Math.min(Math.max(next, min), max);
}

/** Apply every active node's control_after_generate choice; called once after each successful queue. */
export function applyControlAfterGenerate(wf: Workflow, objectInfo: ObjectInfo, random: () => number = Math.random): Workflow {
  return {
    ...wf,
    nodes: wf.nodes.map((node) => {
      const info = objectInfo[node.type];
      if (!info || node.mode !== 0 || !Array.isArray(node.widgets_values)) return node;
      let out = node;
      for (const slot of widgetSlots(info, node)) {
        if (slot.controlIndex === null) continue;
        const values = out.widgets_values as unknown[];
        const value = Number(values[slot.index]);
        const mode = String(values[slot.controlIndex] ?? "fixed");
        const next = nextControlledValue(value, mode, slot, random);
        if (next !== value) out = withValue(out, slot.index, next);
      }
      return out;
    }),
  };
}

/** Whether the widget `name` is shown as an input socket on this node. */
export function isConverted(node: UiNode, name: string): boolean {
  return node.inputs.some((i) => i.widget?.name === name);
}

export function convertWidgetToInput(wf: Workflow, nodeId: number, slot: WidgetSlot): Workflow {
  const node = findNode(wf, nodeId);
  if (!node || isConverted(node, slot.def.name)) return wf;
  const input = { name: slot.def.name, type: slot.def.type, link: null, widget: { name: slot.def.name } };
  return updateNode(wf, nodeId, (n) => ({ ...n, inputs: [...n.inputs, input] }));
}

/** Turn a converted socket back into a widget, dropping its link and renumbering the links after it. */
export function convertInputToWidget(wf: Workflow, nodeId: number, name: string): Workflow {
  const node = findNode(wf, nodeId);
  const at = node?.inputs.findIndex((i) => i.widget?.name === name) ?? -1;
  if (!node || at < 0) return wf;
  const link = node.inputs[at].link;
  const cleared = link == null ? wf : removeLinks(wf, new Set([link]));
  return {
    ...updateNode(cleared, nodeId, (n) => ({ ...n, inputs: n.inputs.filter((_, k) => k !== at) })),
    links: cleared.links.map((l) => (l[3] === nodeId && l[4] > at ? [l[0], l[1], l[2], l[3], l[4] - 1, l[5]] : l)),
  };
}
