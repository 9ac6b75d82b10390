/** A right-click menu at a screen point; items with sub-items open their list on hover, any pick closes the menu. */
import { useEffect } from "react";
import type { MenuItem } from "./contextMenus";

function Items({ items, onDone }: { items: MenuItem[]; onDone: () => void }) {
  return (
    <div className="menu context-list">
      {items.map((item) =>
        item.items ? (
          <div className="submenu" key={item.label}>
            <button type="button" className="has-sub">
              {item.label} ▸
            </button>
            <Items items={item.items} onDone={onDone} />
          </div>
        ) : (
          <button
            type="button"
            key={item.label}
            onClick={() => {
              onDone();
              item.action?.();
            }}
          >
            {item.label}
          </button>
        ),
      )}
    </div>
  );
}

export function ContextMenu({ x, y, items, onClose }: { x: number; y: number; items: MenuItem[]; onClose: () => void }) {
  useEffect(() => {
    const key = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, [onClose]);
  return (
    <div className="context-backdrop" onMouseDown={onClose} onContextMenu={(e) => (e.preventDefault(), onClose())}>
      <div className="context-menu" style={{ left: x, top: y }} onMouseDown={(e) => e.stopPropagation()}>
        <Items items={items} onDone={onClose} />
      </div>
    </div>
  );
}
