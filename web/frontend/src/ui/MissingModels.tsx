/** After a workflow loads (and when a queue is refused): the model files it names that this server lacks, where they come from and where they
 * go, each with a Download button showing the server's progress; the node lists refresh when one lands. */
import { useEffect, useState } from "react";
import { startModelDownload, type DownloadState } from "../api/client";
import { missingModels, type ModelNeed } from "../graph/models";
import { refreshObjectInfo } from "../state/actions";
import { doc, loads } from "../state/document";
import { downloads, missingModelsAsked, recordDownload } from "../state/downloads";
import { notify, runtime } from "../state/runtime";
import { useStore } from "../state/store";

function progressText(state: DownloadState | undefined): string {
  if (!state) return "";
  if (state.status === "error") return `failed: ${state.error ?? ""}`;
  if (state.status !== "downloading") return "downloaded";
  const mb = (n: number) => (n / 1048576).toFixed(1);
  return state.total ? `${mb(state.downloaded)} / ${mb(state.total)} MB` : `${mb(state.downloaded)} MB`;
}

function Row({ need }: { need: ModelNeed }) {
  const state = useStore(downloads, (all) => all[`${need.directory}/${need.name}`]);
  const start = () => startModelDownload(need).then(recordDownload, (err) => notify(`Download refused: ${err instanceof Error ? err.message : String(err)}`, "error"));
  const busy = state?.status === "downloading" || state?.status === "done" || state?.status === "exists";
  return (
    <tr className="missing-model" data-model={need.name}>
      <td>{need.name}</td>
      <td>{need.directory}</td>
      <td className="model-url" title={need.url}>
        {need.url}
      </td>
      <td>
        <button type="button" disabled={busy} onClick={() => void start()}>
          Download
        </button>
        <span className="download-state">{progressText(state)}</span>
      </td>
    </tr>
  );
}

export function MissingModels() {
  const loaded = useStore(loads, (n) => n);
  const objectInfo = useStore(runtime, (r) => r.objectInfo);
  const finished = useStore(downloads, (all) => Object.values(all).filter((d) => d.status === "done").length);
  const asked = useStore(missingModelsAsked, (n) => n);
  const occasion = `${loaded}-${asked}`;
  const [shownFor, setShownFor] = useState("");
  const [needs, setNeeds] = useState<ModelNeed[]>([]);
  useEffect(() => {
    if (finished) void refreshObjectInfo();
  }, [finished]);
  useEffect(() => {
    if (shownFor === occasion) return;
    const missing = missingModels(doc.get(), objectInfo);
    if (Object.keys(objectInfo).length === 0) return;
    setNeeds(missing);
    setShownFor(occasion);
  }, [occasion, objectInfo, shownFor]);
  if (!needs.length) return null;
  return (
    <div className="modal-backdrop" onMouseDown={() => setNeeds([])}>
      <div className="modal missing-models" onMouseDown={(e) => e.stopPropagation()}>
        <h2>This workflow needs model files this server does not have</h2>
        <table>
          <thead>
            <tr>
              <th>File</th>
              <th>Folder</th>
              <th>From</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {needs.map((need) => (
              <Row key={`${need.directory}/${need.name}`} need={need} />
            ))}
          </tbody>
        </table>
        <button type="button" onClick={() => setNeeds([])}>
          Close
        </button>
      </div>
    </div>
  );
}
