/** One widget line in a node: label, field, seed control, image upload, and the button converting it to a socket. */
import { useRef } from "react";
import { uploadImage, viewUrl } from "../api/client";
import { CONTROL_MODES, readWidget, type ControlMode, type WidgetSlot } from "../graph/spec";
import { convertWidgetToInput, setControlMode, setWidgetValue } from "../graph/widgets";
import type { UiNode } from "../graph/workflow";
import { refreshObjectInfo } from "../state/actions";
import { commit, doc } from "../state/document";
import { notify } from "../state/runtime";
import { WidgetField } from "./fields";

type Props = { node: UiNode; slot: WidgetSlot; error?: string };

function ImageUpload({ node, slot }: { node: UiNode; slot: WidgetSlot }) {
  const input = useRef<HTMLInputElement>(null);
  const value = String(readWidget(node.widgets_values, slot) ?? "");
  const pick = async (file: File | undefined) => {
    if (!file) return;
    try {
      const ref = await uploadImage(file);
      const name = ref.subfolder ? `${ref.subfolder}/${ref.filename}` : ref.filename;
      await refreshObjectInfo(); // the new file joins the combo's choices
      commit(setWidgetValue(doc.get(), node.id, slot, name));
    } catch (err) {
      notify(`Upload failed: ${err instanceof Error ? err.message : String(err)}`, "error");
    }
  };
  const slash = value.lastIndexOf("/");
  const ref = { filename: value.slice(slash + 1), subfolder: slash > 0 ? value.slice(0, slash) : "", type: "input" };
  return (
    <div className="upload">
      <button type="button" className="nodrag" onClick={() => input.current?.click()}>
        Upload image…
      </button>
      <input ref={input} type="file" accept="image/*" hidden onChange={(e) => pick(e.target.files?.[0])} />
      {value && <img className="node-image upload-preview" src={viewUrl(ref)} alt={value} draggable={false} />}
    </div>
  );
}

export function WidgetRow({ node, slot, error }: Props) {
  const { def } = slot;
  const value = readWidget(node.widgets_values, slot);
  const control = slot.controlIndex !== null && Array.isArray(node.widgets_values) ? node.widgets_values[slot.controlIndex] : null;
  return (
    <div className={`widget-row${error ? " has-error" : ""}`} title={error ?? def.options.tooltip}>
      <div className="widget-line">
        <label>{def.name}</label>
        <WidgetField def={def} value={value} invalid={!!error} onChange={(v) => commit(setWidgetValue(doc.get(), node.id, slot, v))} />
        <button type="button" className="icon convert nodrag" title="Convert to input socket" onClick={() => commit(convertWidgetToInput(doc.get(), node.id, slot))}>
          ⇄
        </button>
      </div>
      {control !== null && (
        <div className="widget-line control">
          <label>control after generate</label>
          <select className="nodrag" value={String(control ?? "fixed")} onChange={(e) => commit(setControlMode(doc.get(), node.id, slot, e.target.value as ControlMode))}>
            {CONTROL_MODES.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </div>
      )}
      {def.options.image_upload && <ImageUpload node={node} slot={slot} />}
      {error && <div className="input-error">{error}</div>}
    </div>
  );
}
