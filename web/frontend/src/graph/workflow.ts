/** The canvas document: litegraph "workflow" format version 0.4, the same JSON the Python engine reads. */

export type NodeMode = 0 | 2 | 4; // 0 always, 2 muted (never), 4 bypassed

export type UiInput = {
  name: string;
  type: string;
  link: number | null;
  /** Present when this socket stands for a widget converted to an input. */
  widget?: { name: string };
  label?: string;
};

export type UiOutput = { name: string; type: string; links: number[] | null; slot_index?: number; label?: string };

/** ComfyUI stores a node's size without its title bar; the canvas draws this much above the stored height. */
export const TITLE_HEIGHT = 30;

export type UiNode = {
  id: number;
  type: string;
  pos: [number, number];
  size: [number, number];
  flags: { collapsed?: boolean; pinned?: boolean };
  order: number;
  mode: NodeMode;
  title?: string;
  inputs: UiInput[];
  outputs: UiOutput[];
  properties: Record<string, unknown>;
  widgets_values: unknown[] | Record<string, unknown>;
  color?: string;
  bgcolor?: string;
};

/** `[link_id, origin_id, origin_slot, target_id, target_slot, type]` */
export type UiLink = [number, number, number, number, number, string];

export type UiGroup = {
  id?: number;
  title: string;
  bounding: [number, number, number, number];
  color?: string;
  font_size?: number;
  locked?: boolean;
};

export type Workflow = {
  last_node_id: number;
  last_link_id: number;
  nodes: UiNode[];
  links: UiLink[];
  groups: UiGroup[];
  config: Record<string, unknown>;
  extra: Record<string, unknown>;
  version: 0.4;
};

export function emptyWorkflow(): Workflow {
  return { last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {}, extra: {}, version: 0.4 };
}

/** True when `value` looks like a UI-format workflow (nodes array plus links). */
export function isUiWorkflow(value: unknown): value is Workflow {
  const v = value as Workflow | null;
  return !!v && typeof v === "object" && Array.isArray(v.nodes) && Array.isArray(v.links ?? []);
}

/** Fill in fields that older or hand-written files leave out so the rest of the canvas can rely on them. */
export function normalizeWorkflow(raw: Workflow): Workflow {
  const nodes = raw.nodes.map((n, i) => ({
    ...n,
    pos: toPair(n.pos, [0, 0]),
    size: toPair(n.size, [260, 120]),
    flags: n.flags ?? {},
    order: n.order ?? i,
    mode: (n.mode ?? 0) as NodeMode,
    inputs: n.inputs ?? [],
    outputs: n.outputs ?? [],
    properties: n.properties ?? {},
    widgets_values: n.widgets_values ?? [],
  }));
  const links = (raw.links ?? []).map((l) => linkTuple(l as unknown));
  const lastNode = Math.max(raw.last_node_id ?? 0, ...nodes.map((n) => n.id), 0);
  const lastLink = Math.max(raw.last_link_id ?? 0, ...links.map((l) => l[0]), 0);
  return {
    last_node_id: lastNode,
    last_link_id: lastLink,
    nodes,
    links,
    groups: raw.groups ?? [],
    config: raw.config ?? {},
    extra: raw.extra ?? {},
    version: 0.4,
  };
}

function toPair(v: unknown, fallback: [number, number]): [number, number] {
  if (Array.isArray(v) && v.length >= 2) return [Number(v[0]), Number(v[1])];
  if (v && typeof v === "object" && "0" in v) {
    const o = v as Record<string, number>;
    return [Number(o["0"]), Number(o["1"])];
  }
  return fallback;
}

/** Links may be tuples (0.4) or objects (version 1 / some exports); both become tuples. */
function linkTuple(l: unknown): UiLink {
  if (Array.isArray(l)) return l as UiLink;
  const o = l as Record<string, unknown>;
  return [
    Number(o.id),
    Number(o.origin_id),
    Number(o.origin_slot),
    Number(o.target_id),
    Number(o.target_slot),
    String(o.type ?? "*"),
  ];
}

export function findNode(wf: Workflow, id: number): UiNode | undefined {
  return wf.nodes.find((n) => n.id === id);
}

export function findLink(wf: Workflow, id: number | null | undefined): UiLink | undefined {
  if (id == null) return undefined;
  return wf.links.find((l) => l[0] === id);
}
