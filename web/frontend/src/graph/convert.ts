/** UI -> API conversion: the canvas turns its workflow into the prompt POST /prompt expects (mirrors the engine's ui_to_api). */
import type { ApiPrompt, NodeInfo, ObjectInfo } from "../api/types";
import { findLink, findNode, type UiNode, type Workflow } from "./workflow";
import { NOTE_TYPES, nodeTitle, readWidget, VIRTUAL_TYPES, widgetSlots } from "./spec";
import { typesCompatible } from "./types";

type Source = { link: [string, number] } | { value: unknown } | null;

/** A list literal must be wrapped so the engine does not read it as a link. */
function wrapLiteral(value: unknown): unknown {
  return Array.isArray(value) ? { __value__: value } : value;
}

export function workflowToApi(wf: Workflow, objectInfo: ObjectInfo): ApiPrompt {
  const prompt: ApiPrompt = {};
  for (const node of wf.nodes) {
    if (node.mode === 2 || node.mode === 4 || VIRTUAL_TYPES.has(node.type)) continue;
    const info = objectInfo[node.type];
    const inputs: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(namedWidgetValues(node, info))) inputs[name] = wrapLiteral(value);
    for (const input of node.inputs) {
      if (input.link == null) continue;
      const source = resolveLink(wf, input.link, new Set());
      if (source === null) delete inputs[input.name];
      else if ("link" in source) inputs[input.name] = source.link;
      else inputs[input.name] = wrapLiteral(source.value);
    }
    prompt[String(node.id)] = {
      class_type: node.type,
      inputs,
      _meta: { title: node.title || nodeTitle(info, node.type) },
    };
  }
  return prompt;
}

/** Widget values by input name: named values as they are, positional ones placed by the node's declared inputs. */
function namedWidgetValues(node: UiNode, info: NodeInfo | undefined): Record<string, unknown> {
  const values = node.widgets_values;
  if (!Array.isArray(values)) return { ...values };
  const named: Record<string, unknown> = {};
  if (!info) return named;
  for (const slot of widgetSlots(info, node)) {
    const value = readWidget(values, slot);
    if (value !== undefined) named[slot.def.name] = value;
  }
  return named;
}

/** Follow a link back through reroutes, bypassed nodes and primitives to a real output or a literal. */
function resolveLink(wf: Workflow, linkId: number, seen: Set<number>): Source {
  const link = findLink(wf, linkId);
  if (!link || seen.has(linkId)) return null;
  seen.add(linkId);
  const [, originId, originSlot, , , type] = link;
  const origin = findNode(wf, originId);
  if (!origin || origin.mode === 2) return null;
  if (origin.type === "Reroute") {
    const upstream = origin.inputs[0]?.link;
    return upstream == null ? null : resolveLink(wf, upstream, seen);
  }
  if (origin.type === "PrimitiveNode") {
    const values = origin.widgets_values;
    const first = Array.isArray(values) ? values[0] : Object.values(values)[0];
    return first === undefined ? null : { value: first };
  }
  if (NOTE_TYPES.has(origin.type)) return null;
  if (origin.mode === 4) {
    const through = bypassSource(origin, originSlot, type);
    return through == null ? null : resolveLink(wf, through, seen);
  }
  return { link: [String(originId), originSlot] };
}

/** The link feeding a bypassed node's linked input whose type matches the output (same position first). */
function bypassSource(node: UiNode, slot: number, linkType: string): number | null {
  const outputType = node.outputs[slot]?.type ?? linkType;
  const linked = node.inputs.filter((i) => i.link != null);
  const order = linked.map((_, k) => k).sort((a, b) => Number(a !== slot) - Number(b !== slot) || a - b);
  const match = order.find((k) => typesCompatible(linked[k].type, outputType));
  return match === undefined ? null : linked[match].link;
}
