/** Pure edits of the workflow document: add/remove nodes, connect/disconnect sockets. Each returns a new Workflow. */
import type { NodeInfo } from "../api/types";
import { defaultWidgetValues, inputDefs, isSocketInput } from "./spec";
import { connectionRefusal } from "./types";
import { findNode, type UiLink, type UiNode, type Workflow } from "./workflow";

/** Add a node of `info`'s type with default widget values; `wantedId` is used when free (API ids kept on import). */
export function createNode(wf: Workflow, info: NodeInfo, pos: [number, number], wantedId?: number): [Workflow, UiNode] {
  const free = wantedId !== undefined && wantedId > 0 && !wf.nodes.some((n) => n.id === wantedId);
  const id = free ? wantedId : wf.last_node_id + 1;
  const node: UiNode = {
    id,
    type: info.name,
    pos: [Math.round(pos[0]), Math.round(pos[1])],
    size: [280, 0], // the height is measured once drawn
    flags: {},
    order: wf.nodes.length,
    mode: 0,
    inputs: inputDefs(info)
      .filter(isSocketInput)
      .map((d) => ({ name: d.name, type: d.type, link: null })),
    outputs: info.output.map((type, i) => ({
      name: info.output_name?.[i] ?? type,
      type,
      links: [],
      slot_index: i,
    })),
    properties: { "Node name for S&R": info.name },
    widgets_values: defaultWidgetValues(info),
  };
  return [{ ...wf, last_node_id: Math.max(wf.last_node_id, id), nodes: [...wf.nodes, node] }, node];
}

export function updateNode(wf: Workflow, id: number, change: (n: UiNode) => UiNode): Workflow {
  return { ...wf, nodes: wf.nodes.map((n) => (n.id === id ? change(n) : n)) };
}

/** Remove links by id, clearing the sockets on both ends. */
export function removeLinks(wf: Workflow, ids: Set<number>): Workflow {
  if (ids.size === 0) return wf;
  return {
    ...wf,
    links: wf.links.filter((l) => !ids.has(l[0])),
    nodes: wf.nodes.map((n) => ({
      ...n,
      inputs: n.inputs.map((i) => (i.link != null && ids.has(i.link) ? { ...i, link: null } : i)),
      outputs: n.outputs.map((o) => ({ ...o, links: (o.links ?? []).filter((l) => !ids.has(l)) })),
    })),
  };
}

export function removeNodes(wf: Workflow, ids: Set<number>): Workflow {
  const dead = new Set(wf.links.filter((l) => ids.has(l[1]) || ids.has(l[3])).map((l) => l[0]));
  const cleared = removeLinks(wf, dead);
  return { ...cleared, nodes: cleared.nodes.filter((n) => !ids.has(n.id)) };
}

/** Why output `outSlot` of `fromId` cannot feed input `inSlot` of `toId`, or null when it can. */
export function connectionProblem(wf: Workflow, fromId: number, outSlot: number, toId: number, inSlot: number): string | null {
  const from = findNode(wf, fromId);
  const to = findNode(wf, toId);
  const output = from?.outputs[outSlot];
  const input = to?.inputs[inSlot];
  if (!from || !to || !output || !input) return "That socket no longer exists.";
  if (fromId === toId) return "A node cannot feed itself.";
  const refusal = connectionRefusal(output.type, input.type, input.name);
  if (refusal) return refusal;
  if (reaches(wf, toId, fromId)) return `Connecting would create a cycle through "${to.title || to.type}".`;
  return null;
}

/**
 * Connect output `outSlot` of `fromId` to input `inSlot` of `toId`, replacing whatever fed that input.
 * Returns the refusal sentence instead when the connection is not allowed.
 */
export function connect(wf: Workflow, fromId: number, outSlot: number, toId: number, inSlot: number): Workflow | string {
  const problem = connectionProblem(wf, fromId, outSlot, toId, inSlot);
  if (problem) return problem;
  const output = findNode(wf, fromId)!.outputs[outSlot];
  const input = findNode(wf, toId)!.inputs[inSlot];
  const old = input.link;
  const base = old == null ? wf : removeLinks(wf, new Set([old]));
  const id = base.last_link_id + 1;
  const link: UiLink = [id, fromId, outSlot, toId, inSlot, output.type];
  return {
    ...base,
    last_link_id: id,
    links: [...base.links, link],
    nodes: base.nodes.map((n) => {
      if (n.id === toId) return { ...n, inputs: n.inputs.map((i, k) => (k === inSlot ? { ...i, link: id } : i)) };
      if (n.id === fromId)
        return { ...n, outputs: n.outputs.map((o, k) => (k === outSlot ? { ...o, links: [...(o.links ?? []), id] } : o)) };
      return n;
    }),
  };
}

/** Whether data flows from `start` to `goal` along existing links. */
function reaches(wf: Workflow, start: number, goal: number): boolean {
  const stack = [start];
  const seen = new Set<number>();
  while (stack.length) {
    const id = stack.pop()!;
    if (id === goal) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const l of wf.links) if (l[1] === id) stack.push(l[3]);
  }
  return false;
}

export function moveNodes(wf: Workflow, moves: Map<number, [number, number]>): Workflow {
  return {
    ...wf,
    nodes: wf.nodes.map((n) => {
      const p = moves.get(n.id);
      return p ? { ...n, pos: [Math.round(p[0]), Math.round(p[1])] as [number, number] } : n;
    }),
  };
}
