/** The search dialog opened by double-clicking the canvas: type, pick with arrows/Enter, the node lands where you clicked. */
import { useState } from "react";
import { attachSlot, type LooseLink } from "../graph/linking";
import { byCategory, label, searchNodes } from "../graph/search";
import { runtime } from "../state/runtime";
import { useStore } from "../state/store";

type Props = { onPick: (type: string) => void; onClose: () => void; link?: LooseLink };

/** With a loose link, only nodes that can take it are offered, and an empty query lists them all. */
export function NodeSearch({ onPick, onClose, link }: Props) {
  const objectInfo = useStore(runtime, (r) => r.objectInfo);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const fits = link ? Object.fromEntries(Object.entries(objectInfo).filter(([, info]) => attachSlot(info, link) >= 0)) : objectInfo;
  const results = link && !query ? byCategory(fits).flatMap(([, list]) => list).slice(0, 12) : searchNodes(fits, query, 12);
  const onKey = (e: React.KeyboardEvent) => {
    if (e.key === "Escape") onClose();
    else if (e.key === "ArrowDown") setActive(Math.min(active + 1, results.length - 1));
    else if (e.key === "ArrowUp") setActive(Math.max(active - 1, 0));
    else if (e.key === "Enter" && results[active]) onPick(results[active].name);
    else return;
    e.preventDefault();
  };
  return (
    <div className="modal-backdrop" onMouseDown={onClose}>
      <div className="node-search" onMouseDown={(e) => e.stopPropagation()}>
        <input
          autoFocus
          placeholder={link ? `Add a node taking ${link.type}…` : "Search nodes by name or description…"}
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setActive(0);
          }}
          onKeyDown={onKey}
        />
        <ul>
          {results.map((info, k) => (
            <li key={info.name} className={k === active ? "active" : ""} onMouseEnter={() => setActive(k)} onClick={() => onPick(info.name)}>
              <span className="result-name">{label(info)}</span>
              <span className="result-cat">{info.category}</span>
              {info.description && <div className="result-desc">{info.description}</div>}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
