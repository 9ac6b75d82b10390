/** Starts talking to the server: node definitions first (may ask for the token), then the websocket. */
import { connectSocket, newClientId } from "../api/socket";
import { refreshObjectInfo, setClientId } from "./actions";
import { handleMessage, handlePreview } from "./execution";
import { notify, runtime } from "./runtime";

/** Returns a function that closes the websocket. */
export function startSession(): () => void {
  const clientId = newClientId();
  setClientId(clientId);
  let close = () => {};
  let stopped = false;
  refreshObjectInfo()
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
    stopped = true;
    close();
  };
}
