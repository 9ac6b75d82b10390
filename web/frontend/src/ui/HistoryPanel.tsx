/** History panel: finished prompts with their status and output images; a click loads the workflow that made them. */
import { useEffect, useState } from "react";
import { fetchHistory, viewUrl } from "../api/client";
import type { HistoryEntry } from "../api/types";
import { workflowFromJson } from "../files/load";
import { replaceWorkflow } from "../state/document";
import { outputFiles } from "../state/execution";
import { historyOutcome } from "../state/history";
import { notify, runtime } from "../state/runtime";
import { useStore } from "../state/store";
import { Media } from "./Media";

function load(entry: HistoryEntry): void {
  const extra = entry.prompt[3] as { extra_pnginfo?: { workflow?: unknown } } | undefined;
  try {
    replaceWorkflow(workflowFromJson(extra?.extra_pnginfo?.workflow ?? entry.prompt[2], runtime.get().objectInfo));
  } catch (err) {
    notify(`Cannot load this run: ${err instanceof Error ? err.message : String(err)}`, "error");
  }
}

export function HistoryPanel() {
  const [items, setItems] = useState<[string, HistoryEntry][]>([]);
  const queueRemaining = useStore(runtime, (r) => r.queueRemaining);
  const running = useStore(runtime, (r) => r.promptId);
  useEffect(() => {
    fetchHistory()
      .then((h) => setItems(Object.entries(h).reverse()))
      .catch(() => undefined);
  }, [queueRemaining, running]);
  return (
    <div className="panel history-panel">
      {items.length === 0 && <div className="empty">No finished runs yet.</div>}
      <ul>
        {items.map(([id, entry]) => {
          const files = Object.values(entry.outputs ?? {}).flatMap((o) => outputFiles(o));
          const { status, reason } = historyOutcome(entry);
          return (
            <li key={id} className={`history-item ${status}`}>
              <div className="history-head">
                <span>#{entry.prompt[0]}</span>
                <span className={`status ${status}`}>{status}</span>
                <button type="button" onClick={() => load(entry)} title="Load this run's workflow into the canvas">
                  Load
                </button>
              </div>
              {reason && <div className="history-reason">{reason}</div>}
              <div className="history-images">
                {files.slice(0, 8).map((f) => (
                  <a key={`${f.subfolder}/${f.filename}`} href={viewUrl(f)} target="_blank" rel="noreferrer">
                    <Media file={f} className="history-thumb" />
                  </a>
                ))}
              </div>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
