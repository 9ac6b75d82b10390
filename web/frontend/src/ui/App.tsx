/** The page: toolbar, palette, canvas and side panels, plus file drops, shortcuts and dialogs. */
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { openFile } from "../state/actions";
import { startSession } from "../state/session";
import { addNodeAt } from "../state/commands";
import { Canvas, type MenuRequest, type SearchRequest } from "./Canvas";
import { ContextMenu } from "./ContextMenu";
import { canvasMenu, groupMenu, linkMenu, nodeMenu, type MenuItem } from "./contextMenus";
import { HelpPanel } from "./HelpPanel";
import { HistoryPanel } from "./HistoryPanel";
import { MissingModels } from "./MissingModels";
import { NodeSearch } from "./NodeSearch";
import { Notices } from "./Notices";
import { Palette } from "./Palette";
import { QueuePanel } from "./QueuePanel";
import { useShortcuts } from "./shortcuts";
import { TemplateBrowser } from "./TemplateBrowser";
import { TokenDialog } from "./TokenDialog";
import { Toolbar } from "./Toolbar";

function Editor() {
  const rf = useReactFlow();
  const fileInput = useRef<HTMLInputElement>(null);
  const [searchAt, setSearchAt] = useState<SearchRequest | null>(null);
  const [help, setHelp] = useState(false);
  const [templates, setTemplates] = useState(false);
  const [menu, setMenu] = useState<MenuRequest | null>(null);
  const [tab, setTab] = useState<"queue" | "history">("queue");
  const hooks = useMemo(
    () => ({ fit: () => rf.fitView({ padding: 0.15, maxZoom: 1 }), open: () => fileInput.current?.click(), help: () => setHelp(true) }),
    [rf],
  );
  useShortcuts(hooks);
  useEffect(startSession, []);
  const centre = () => {
    const box = document.querySelector(".canvas")!.getBoundingClientRect();
    return rf.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 3 });
  };
  const menuItems = (m: MenuRequest): MenuItem[] => {
    if (m.kind === "canvas") return canvasMenu(m.at, () => setSearchAt(m.at));
    if (m.kind === "node") return nodeMenu(m.id);
    if (m.kind === "link") return linkMenu(m.id, m.at);
    return groupMenu(m.index);
  };
  const onDrop = (e: DragEvent) => {
    const file = e.dataTransfer.files?.[0];
    if (!file) return;
    e.preventDefault();
    void openFile(file, rf.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  };
  return (
    <div className="app" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
      <Toolbar onOpen={hooks.open} onFit={hooks.fit} onHelp={hooks.help} onTemplates={() => setTemplates(true)} />
      <input ref={fileInput} type="file" accept=".json,.png,.webp,application/json,image/png,image/webp" hidden onChange={(e) => e.target.files?.[0] && void openFile(e.target.files[0])} />
      <div className="main">
        <Palette onAdd={(type) => addNodeAt(type, centre())} />
        <div className="canvas">
          <Canvas onSearch={setSearchAt} onMenu={setMenu} />
        </div>
        <aside className="side">
          <div className="tabs">
            <button type="button" className={tab === "queue" ? "active" : ""} onClick={() => setTab("queue")}>
              Queue
            </button>
            <button type="button" className={tab === "history" ? "active" : ""} onClick={() => setTab("history")}>
              History
            </button>
          </div>
          {tab === "queue" ? <QueuePanel /> : <HistoryPanel />}
        </aside>
      </div>
      {searchAt && (
        <NodeSearch
          link={searchAt.link}
          onClose={() => setSearchAt(null)}
          onPick={(type) => {
            addNodeAt(type, searchAt, searchAt.link);
            setSearchAt(null);
          }}
        />
      )}
      {menu && <ContextMenu x={menu.screen.x} y={menu.screen.y} items={menuItems(menu)} onClose={() => setMenu(null)} />}
      {templates && <TemplateBrowser onClose={() => setTemplates(false)} />}
      {help && <HelpPanel onClose={() => setHelp(false)} />}
      <MissingModels />
      <TokenDialog />
      <Notices />
    </div>
  );
}

export function App() {
  return (
    <ReactFlowProvider>
      <Editor />
    </ReactFlowProvider>
  );
}
