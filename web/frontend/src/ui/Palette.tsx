/** The left sidebar: every node type by category, filtered by a search box; drag an entry onto the canvas. */
import { useState } from "react";
import type { NodeInfo } from "../api/types";
import { byCategory, label, searchNodes } from "../graph/search";
import { runtime } from "../state/runtime";
import { useStore } from "../state/store";
import { NODE_DRAG_TYPE } from "./Canvas";

function Entry({ info, onAdd }: { info: NodeInfo; onAdd: (type: string) => void }) {
  return (
    <div
      className="palette-entry"
      draggable
      data-node-type={info.name}
      title={info.description || info.name}
      onDragStart={(e) => {
        e.dataTransfer.setData(NODE_DRAG_TYPE, info.name);
        e.dataTransfer.effectAllowed = "copy";
      }}
      onDoubleClick={() => onAdd(info.name)}
    >
      {label(info)}
    </div>
  );
}

export function Palette({ onAdd }: { onAdd: (type: string) => void }) {
  const objectInfo = useStore(runtime, (r) => r.objectInfo);
  const [query, setQuery] = useState("");
  const [closed, setClosed] = useState<Set<string>>(new Set());
  const toggle = (cat: string) => {
    const next = new Set(closed);
    if (next.has(cat)) next.delete(cat);
    else next.add(cat);
    setClosed(next);
  };
  return (
    <aside className="palette">
      <input className="palette-search" type="search" placeholder="Search nodes…" value={query} onChange={(e) => setQuery(e.target.value)} />
      <div className="palette-list">
        {query
          ? searchNodes(objectInfo, query).map((info) => <Entry key={info.name} info={info} onAdd={onAdd} />)
          : byCategory(objectInfo).map(([cat, list]) => (
              <div key={cat} className="palette-category">
                <div className="palette-cat-title" onClick={() => toggle(cat)}>
                  {closed.has(cat) ? "▸" : "▾"} {cat}
                  <span className="count">{list.length}</span>
                </div>
                {!closed.has(cat) && list.map((info) => <Entry key={info.name} info={info} onAdd={onAdd} />)}
              </div>
            ))}
      </div>
      <div className="palette-hint">Drag a node onto the canvas, or double-click the canvas to search.</div>
    </aside>
  );
}
