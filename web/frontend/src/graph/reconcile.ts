/** Load-time fixes that line a file's nodes up with the server's node definitions. */
import type { ObjectInfo } from "../api/types";
import { inputDefs, isSocketInput } from "./spec";
import { convertInputToWidget } from "./widgets";
import type { Workflow } from "./workflow";

/**
 * Newer ComfyUI files list every widget as an input; on load, unlinked ones go back to being plain widgets
 * so the node shows its fields instead of a column of empty sockets.
 */
export function pruneUnlinkedWidgetInputs(wf: Workflow, objectInfo: ObjectInfo): Workflow {
  let out = wf;
  for (const node of wf.nodes) {
    const info = objectInfo[node.type];
    if (!info) continue;
    const forced = new Set(inputDefs(info).filter((d) => d.forceInput).map((d) => d.name));
    for (const input of node.inputs) {
      if (input.widget && input.link == null && !forced.has(input.widget.name)) {
        out = convertInputToWidget(out, node.id, input.widget.name);
      }
    }
  }
  return out;
}

/**
 * Bring a loaded node in line with the server's definition: sockets it declares but the file lacks
 * (a pack added an input, a hand-written file) are added, so they can be connected.
 */
export function reconcileSockets(wf: Workflow, objectInfo: ObjectInfo): Workflow {
  return {
    ...wf,
    nodes: wf.nodes.map((node) => {
      const info = objectInfo[node.type];
      if (!info) return node;
      const have = new Set(node.inputs.map((i) => i.name));
      const missing = inputDefs(info).filter((d) => isSocketInput(d) && !have.has(d.name));
      const outputs = info.output.slice(node.outputs.length).map((type, k) => ({
        name: info.output_name?.[node.outputs.length + k] ?? type,
        type,
        links: [],
        slot_index: node.outputs.length + k,
      }));
      if (!missing.length && !outputs.length) return node;
      return {
        ...node,
        inputs: [...node.inputs, ...missing.map((d) => ({ name: d.name, type: d.type, link: null }))],
        outputs: [...node.outputs, ...outputs],
      };
    }),
  };
}
