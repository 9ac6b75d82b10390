/** Canvas-only nodes made from the menus: Reroute, Note and Primitive, and a Reroute spliced into a link. */
import type { ObjectInfo } from "../api/types";
import { connect, removeLinks, updateNode } from "./edit";
import { widgetSlots } from "./spec";
import { findLink, findNode, type UiNode, type Workflow } from "./workflow";

export type VirtualKind = "Reroute" | "Note" | "PrimitiveNode";

function shape(kind: VirtualKind, type: string): Pick<UiNode, "inputs" | "outputs" | "size" | "widgets_values" | "properties"> {
  if (kind === "Reroute")
    return { inputs: [{ name: "", type: "*", link: null }], outputs: [{ name: "", type, links: [] }], size: [75, 26], widgets_values: [], properties: { showOutputText: false, horizontal: false } };
  if (kind === "Note") return { inputs: [], outputs: [], size: [320, 120], widgets_values: [""], properties: { text: "" } };
  return { inputs: [], outputs: [{ name: "connect to widget input", type: "*", links: [] }], size: [240, 80], widgets_values: [], properties: { "Run widget replace on values": false } };
}

/** Add a canvas-only node at `pos`; a Reroute's output takes `type` (a link's type when spliced in). */
export function createVirtualNode(wf: Workflow, kind: VirtualKind, pos: [number, number], type = "*"): [Workflow, UiNode] {
  const node: UiNode = { id: wf.last_node_id + 1, type: kind, pos: [Math.round(pos[0]), Math.round(pos[1])], flags: {}, order: wf.nodes.length, mode: 0, ...shape(kind, type) };
  return [{ ...wf, last_node_id: node.id, nodes: [...wf.nodes, node] }, node];
}

/** Replace link `linkId` by origin -> new Reroute at `pos` -> target; unchanged when the link is gone. */
export function insertReroute(wf: Workflow, linkId: number, pos: [number, number]): Workflow {
  const link = findLink(wf, linkId);
  if (!link) return wf;
  const [, from, outSlot, to, inSlot, type] = link;
  const [added, reroute] = createVirtualNode(removeLinks(wf, new Set([linkId])), "Reroute", pos, type);
  const fed = connect(added, from, outSlot, reroute.id, 0);
  if (typeof fed === "string") return wf;
  const out = connect(fed, reroute.id, 0, to, inSlot);
  return typeof out === "string" ? wf : out;
}

/** A Primitive linked to a widget input for the first time takes that input's type and current value, so it
 * edits the value the node had (ComfyUI's behaviour); Primitives already typed are left alone. */
export function typePrimitives(wf: Workflow, objectInfo: ObjectInfo): Workflow {
  let out = wf;
  for (const node of wf.nodes) {
    if (node.type !== "PrimitiveNode" || node.outputs[0]?.type !== "*") continue;
    const link = wf.links.find((l) => l[1] === node.id);
    const target = link && findNode(wf, link[3]);
    const input = target?.inputs[link![4]];
    const info = target && objectInfo[target.type];
    const slot = input?.widget && info ? widgetSlots(info, target).find((s) => s.def.name === input.widget!.name) : undefined;
    if (!slot || !input) continue;
    const values = target!.widgets_values;
    const value = Array.isArray(values) ? values[slot.index] : values[slot.def.name];
    out = updateNode(out, node.id, (n) => ({ ...n, outputs: [{ ...n.outputs[0], type: input.type, name: input.type }], widgets_values: [value] }));
  }
  return out;
}
