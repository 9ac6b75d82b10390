/** The ⋮ menu of a node: rename, collapse, mute, bypass, delete. */
import { useState } from "react";
import { removeNodes } from "../graph/edit";
import type { UiNode } from "../graph/workflow";
import { toggleCollapse, toggleMode } from "../state/commands";
import { commit, doc } from "../state/document";

export function NodeMenu({ node, onRename }: { node: UiNode; onRename: () => void }) {
  const [open, setOpen] = useState(false);
  const item = (label: string, action: () => void) => (
    <button
      type="button"
      onClick={() => {
        setOpen(false);
        action();
      }}
    >
      {label}
    </button>
  );
  return (
    <span className="node-menu nodrag" onMouseLeave={() => setOpen(false)}>
      <button type="button" className="icon" title="Node menu" onClick={() => setOpen(!open)}>
        ⋮
      </button>
      {open && (
        <div className="menu">
          {item("Rename", onRename)}
          {item(node.flags.collapsed ? "Expand" : "Collapse", () => toggleCollapse(new Set([node.id])))}
          {item(node.mode === 2 ? "Unmute" : "Mute", () => toggleMode(new Set([node.id]), 2))}
          {item(node.mode === 4 ? "Un-bypass" : "Bypass", () => toggleMode(new Set([node.id]), 4))}
          {item("Delete", () => commit(removeNodes(doc.get(), new Set([node.id]))))}
        </div>
      )}
    </span>
  );
}
