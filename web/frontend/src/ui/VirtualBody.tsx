/** Bodies of canvas-only nodes: a Note's editable text, a PrimitiveNode's editable value. */
import type { InputDef, WidgetKind, WidgetSlot } from "../graph/spec";
import { updateNode } from "../graph/edit";
import { setWidgetValue } from "../graph/widgets";
import type { UiNode } from "../graph/workflow";
import { commit, doc } from "../state/document";
import { WidgetField } from "./fields";

const KINDS = new Set(["INT", "FLOAT", "BOOLEAN"]);

function primitiveSlot(node: UiNode): WidgetSlot {
  const type = node.outputs[0]?.type ?? "STRING";
  const widget = (KINDS.has(type) ? type : "STRING") as WidgetKind;
  const def: InputDef = { name: "value", type, widget, forceInput: false, options: {}, choices: [], optional: false, control: false, imageUpload: false };
  return { def, index: 0, controlIndex: null };
}

export function VirtualBody({ node }: { node: UiNode }) {
  const first = Object.values(node.widgets_values)[0];
  if (node.type === "PrimitiveNode") {
    const slot = primitiveSlot(node);
    return (
      <div className="widgets">
        <div className="widget-line">
          <label>value</label>
          <WidgetField def={slot.def} value={first} onChange={(v) => commit(setWidgetValue(doc.get(), node.id, slot, v))} />
        </div>
      </div>
    );
  }
  if (node.type === "Note" || node.type === "MarkdownNote") {
    const save = (text: string) => text !== String(first ?? "") && commit(updateNode(doc.get(), node.id, (n) => ({ ...n, widgets_values: [text] })));
    return <textarea className="note-text nodrag nowheel" defaultValue={String(first ?? "")} placeholder="Note…" onBlur={(e) => save(e.target.value)} />;
  }
  return null;
}
