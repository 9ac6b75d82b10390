/** Copy/paste of a selection of nodes, keeping the links between the copied nodes. */
import type { UiLink, UiNode, Workflow } from "./workflow";

export type Clip = { nodes: UiNode[]; links: UiLink[] };

export function copyNodes(wf: Workflow, ids: Set<number>): Clip {
  return {
    nodes: structuredClone(wf.nodes.filter((n) => ids.has(n.id))),
    links: wf.links.filter((l) => ids.has(l[1]) && ids.has(l[3])),
  };
}

/** Paste `clip` shifted by `offset`; returns the new workflow and the ids of the pasted nodes. */
export function pasteNodes(wf: Workflow, clip: Clip, offset: [number, number]): [Workflow, number[]] {
  const idMap = new Map<number, number>();
  let nextNode = wf.last_node_id;
  for (const n of clip.nodes) idMap.set(n.id, ++nextNode);
  const linkMap = new Map<number, number>();
  let nextLink = wf.last_link_id;
  for (const l of clip.links) linkMap.set(l[0], ++nextLink);
  const nodes = clip.nodes.map((n) => ({
    ...structuredClone(n),
    id: idMap.get(n.id)!,
    pos: [n.pos[0] + offset[0], n.pos[1] + offset[1]] as [number, number],
    inputs: n.inputs.map((i) => ({ ...i, link: i.link != null ? (linkMap.get(i.link) ?? null) : null })),
    outputs: n.outputs.map((o) => ({
      ...o,
      links: (o.links ?? []).filter((l) => linkMap.has(l)).map((l) => linkMap.get(l)!),
    })),
  }));
  const links = clip.links.map(
    (l): UiLink => [linkMap.get(l[0])!, idMap.get(l[1])!, l[2], idMap.get(l[3])!, l[4], l[5]],
  );
  return [
    { ...wf, last_node_id: nextNode, last_link_id: nextLink, nodes: [...wf.nodes, ...nodes], links: [...wf.links, ...links] },
    nodes.map((n) => n.id),
  ];
}
