/** Starts talking to the server: node definitions first (may ask for the token), then the websocket. */
import { connectSocket, newClientId } from "../api/socket";
import { defaultWorkflow } from "../graph/templates";
import { refreshObjectInfo, setClientId } from "./actions";
import { doc, firstVisit, loads, replaceWorkflow } from "./document";
import { handleMessage, handlePreview } from "./execution";
import { notify, runtime } from "./runtime";

/** A first visit starts from text-to-image rather than an empty canvas. */
function openDefaultOnFirstVisit(): void {
  if (!firstVisit || doc.get().nodes.length) return;
  const wf = defaultWorkflow(runtime.get().objectInfo);
  if (wf) replaceWorkflow(wf);
}

/** Returns a function that closes the websocket. */
export function startSession(): () => void {
  const clientId = newClientId();
  setClientId(clientId);
  let close = () => {};
  let stopped = false;
  // Node ids restart in another graph (after Clear, or a loaded file): what the old nodes showed must go.
  const forgetOldGraph = loads.subscribe(() => runtime.set((r) => ({ ...r, nodes: {} })));
  refreshObjectInfo()
    .then(openDefaultOnFirstVisit)
    .catch((err) => notify(`Cannot load node definitions: ${err instanceof Error ? err.message : String(err)}`, "error"))
    .finally(() => {
      if (stopped) return;
      close = connectSocket(clientId, {
        onMessage: handleMessage,
        onPreview: handlePreview,
        onOpenChange: (connected) => runtime.set((r) => ({ ...r, connected })),
      });
    });
  return () => {
    forgetOldGraph();
    stopped = true;
    close();
  };
}
