/** Reads a node's /object_info entry into ordered input definitions: which inputs are widgets, which are sockets. */
import type { InputOptions, NodeInfo } from "../api/types";

export type WidgetKind = "INT" | "FLOAT" | "STRING" | "BOOLEAN" | "COMBO";

export type InputDef = {
  name: string;
  /** Socket type; "COMBO" for choice lists. */
  type: string;
  /** Widget kind for literal inputs, null for socket-only types. */
  widget: WidgetKind | null;
  /** A literal declared with forceInput: shown as a socket, holding a widget value only when the file lists one. */
  forceInput: boolean;
  options: InputOptions;
  choices: unknown[];
  optional: boolean;
  /** Whether a control_after_generate value (randomize/increment/...) follows this widget's value. */
  control: boolean;
  imageUpload: boolean;
};

/** One position in a node's positional `widgets_values`. */
export type WidgetSlot = { def: InputDef; index: number; controlIndex: number | null };

export const CONTROL_MODES = ["fixed", "increment", "decrement", "randomize"] as const;
const SEED_NAMES = new Set(["seed", "noise_seed"]);
/** The value ComfyUI's upload button leaves after an image_upload combo in older files. */
const UPLOAD_MARKERS = new Set(["image", "video"]);
export type ControlMode = (typeof CONTROL_MODES)[number];

const LITERALS = new Set(["INT", "FLOAT", "STRING", "BOOLEAN"]);

export const NOTE_TYPES = new Set(["Note", "MarkdownNote"]);
/** Nodes that exist only on the canvas and never reach the API prompt. */
export const VIRTUAL_TYPES = new Set(["Reroute", "PrimitiveNode", ...NOTE_TYPES]);

export function inputDefs(info: NodeInfo): InputDef[] {
  const defs: InputDef[] = [];
  for (const group of ["required", "optional"] as const) {
    const specs = info.input?.[group] ?? {};
    const order = info.input_order?.[group] ?? Object.keys(specs);
    for (const name of order) {
      const spec = specs[name];
      if (spec) defs.push(toDef(name, spec[0], spec[1] ?? {}, group === "optional"));
    }
  }
  return defs;
}

function toDef(name: string, head: string | unknown[], options: InputOptions, optional: boolean): InputDef {
  const isCombo = Array.isArray(head) || head === "COMBO";
  const type = isCombo ? "COMBO" : String(head);
  const choices = Array.isArray(head) ? head : isCombo ? (options.options ?? []) : [];
  const literal = isCombo || LITERALS.has(type);
  const widget = literal ? (type as WidgetKind) : null;
  const control = widget === "INT" && (!!options.control_after_generate || SEED_NAMES.has(name));
  return { name, type, widget, forceInput: !!options.forceInput, options, choices, optional, control, imageUpload: !!options.image_upload };
}

/** Inputs that start as sockets on a fresh node: socket types and forceInput literals. */
export function isSocketInput(def: InputDef): boolean {
  return !def.widget || def.forceInput;
}

type SavedNode = { inputs: { name: string; widget?: { name: string } }[]; widgets_values: unknown[] | Record<string, unknown> };

/**
 * Positions of each widget's value (and its control value) in `widgets_values`. Given a saved node, positions
 * follow what the file holds (same rules as the engine's ui_format): a control value or an upload marker
 * takes a position only when present, and forceInput literals only when the node lists them as widgets.
 */
export function widgetSlots(info: NodeInfo, node?: SavedNode): WidgetSlot[] {
  const values = node && Array.isArray(node.widgets_values) ? node.widgets_values : null;
  const listed = new Set(node?.inputs.filter((i) => i.widget).map((i) => i.name));
  const slots: WidgetSlot[] = [];
  let index = 0;
  for (const def of inputDefs(info)) {
    if (!def.widget || (def.forceInput && !listed.has(def.name))) continue;
    const slot: WidgetSlot = { def, index: index++, controlIndex: null };
    if (def.control && (!values || CONTROL_MODES.includes(values[index] as ControlMode))) slot.controlIndex = index++;
    if (def.imageUpload && values && UPLOAD_MARKERS.has(values[index] as string)) index++;
    slots.push(slot);
  }
  return slots;
}

/** The value a fresh widget starts with. */
export function defaultValue(def: InputDef): unknown {
  const d = def.options.default;
  switch (def.widget) {
    case "COMBO":
      return d !== undefined ? d : (def.choices[0] ?? "");
    case "INT":
    case "FLOAT":
      return typeof d === "number" ? d : Math.max(0, def.options.min ?? 0);
    case "BOOLEAN":
      return typeof d === "boolean" ? d : false;
    default:
      return typeof d === "string" ? d : "";
  }
}

/** Fresh positional widgets_values for a node: each default, then "randomize" after controlled seeds. */
export function defaultWidgetValues(info: NodeInfo): unknown[] {
  const values: unknown[] = [];
  for (const slot of widgetSlots(info)) {
    values[slot.index] = defaultValue(slot.def);
    if (slot.controlIndex !== null) values[slot.controlIndex] = "randomize";
  }
  return values;
}

/** Read a widget's value from positional or named `widgets_values`. */
export function readWidget(values: unknown[] | Record<string, unknown>, slot: WidgetSlot): unknown {
  return Array.isArray(values) ? values[slot.index] : values[slot.def.name];
}

export function nodeTitle(info: NodeInfo | undefined, type: string): string {
  return info?.display_name || info?.name || type;
}
