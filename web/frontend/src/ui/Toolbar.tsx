/** The top bar: queue button, overall progress, file actions, view and help. */
import { clearWorkflow } from "../state/document";
import { queueWorkflow, refreshObjectInfo, saveWorkflow } from "../state/actions";
import { notify, runtime } from "../state/runtime";
import { useStore } from "../state/store";

type Props = { onOpen: () => void; onFit: () => void; onHelp: () => void; onTemplates: () => void };

export function Toolbar({ onOpen, onFit, onHelp, onTemplates }: Props) {
  const connected = useStore(runtime, (r) => r.connected);
  const remaining = useStore(runtime, (r) => r.queueRemaining);
  const overall = useStore(runtime, (r) => r.overall);
  const pct = overall ? Math.round(100 * overall.fraction) : null;
  return (
    <header className="toolbar">
      <span className="brand">Loom</span>
      <button type="button" className="primary queue-button" onClick={() => void queueWorkflow()} title="Queue (Ctrl+Enter)">
        ▶ Queue
      </button>
      <span className="queue-count" title="Prompts waiting or running">
        {remaining} in queue
      </span>
      {pct !== null && (
        <span className="overall" title={overall!.text}>
          <span className="overall-bar">
            <span style={{ width: `${pct}%` }} />
          </span>
          {pct}% · {overall!.text}
        </span>
      )}
      <span className="spacer" />
      <button type="button" className="templates-button" onClick={onTemplates} title="Start from an official template">
        Templates
      </button>
      <button type="button" onClick={onOpen} title="Open a workflow (Ctrl+O)">
        Open
      </button>
      <button type="button" onClick={saveWorkflow} title="Save the workflow as JSON (Ctrl+S)">
        Save
      </button>
      <button type="button" onClick={() => confirm("Clear the canvas?") && clearWorkflow()} title="Start from an empty canvas">
        Clear
      </button>
      <button type="button" onClick={() => refreshObjectInfo().then(() => notify("Node list and model files refreshed."))} title="Reload node definitions and model lists">
        Refresh
      </button>
      <button type="button" onClick={onFit} title="Fit view (.)">
        Fit
      </button>
      <button type="button" onClick={onHelp} title="Keyboard shortcuts (F1)">
        ?
      </button>
      <span className={connected ? "conn on" : "conn off"} title={connected ? "Connected to the server" : "Not connected"} />
    </header>
  );
}
