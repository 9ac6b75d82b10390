/** The left sidebar: every node type by category, filtered by a search box; drag an entry onto the canvas. */
import { useMemo, useState } from "react";
import type { NodeInfo } from "../api/types";
import { byCategory, label, searchNodes } from "../graph/search";
import { runtime } from "../state/runtime";
import { useStore } from "../state/store";
import { NODE_DRAG_TYPE } from "./Canvas";

/** Display names used by more than one node (aliases): those entries also show the class name. */
function sharedLabels(list: NodeInfo[]): Set<string> {
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const info of list) (seen.has(label(info)) ? shared : seen).add(label(info));
  return shared;
}

function Entry({ info, onAdd, qualify }: { info: NodeInfo; onAdd: (type: string) => void; qualify: boolean }) {
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
      {qualify && <span className="class-name"> {info.name}</span>}
    </div>
  );
}

export function Palette({ onAdd }: { onAdd: (type: string) => void }) {
  const objectInfo = useStore(runtime, (r) => r.objectInfo);
  const [query, setQuery] = useState("");
  const [closed, setClosed] = useState<Set<string>>(new Set());
  const shared = useMemo(() => sharedLabels(Object.values(objectInfo)), [objectInfo]);
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
          ? searchNodes(objectInfo, query).map((info) => <Entry key={info.name} info={info} onAdd={onAdd} qualify={shared.has(label(info))} />)
          : byCategory(objectInfo).map(([cat, list]) => (
              <div key={cat} className="palette-category">
                <div className="palette-cat-title" onClick={() => toggle(cat)}>
                  {closed.has(cat) ? "▸" : "▾"} {cat}
                  <span className="count">{list.length}</span>
                </div>
                {!closed.has(cat) && list.map((info) => <Entry key={info.name} info={info} onAdd={onAdd} qualify={shared.has(label(info))} />)}
              </div>
            ))}
      </div>
      <div className="palette-hint">Drag a node onto the canvas, or double-click the canvas to search.</div>
    </aside>
  );
}
