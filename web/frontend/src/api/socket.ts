/** Websocket client for /ws: JSON events and binary latent previews, reconnecting with the same client id. */
import { withToken } from "./auth";

export type WsMessage = { type: string; data: Record<string, unknown> };

export type Preview = { mime: string; bytes: Uint8Array };

/** Decode a binary frame: 4-byte BE event type (1 = preview), 4-byte BE format (1 JPEG, 2 PNG), image bytes. */
export function decodePreview(buffer: ArrayBuffer): Preview | null {
  if (buffer.byteLength < 8) return null;
  const view = new DataView(buffer);
  if (view.getUint32(0) !== 1) return null;
  const mime = view.getUint32(4) === 2 ? "image/png" : "image/jpeg";
  return { mime, bytes: new Uint8Array(buffer, 8) };
}

export function newClientId(): string {
  const saved = sessionStorage.getItem("loom.clientId");
  if (saved) return saved;
  const id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  sessionStorage.setItem("loom.clientId", id);
  return id;
}

export type SocketHandlers = {
  onMessage: (msg: WsMessage) => void;
  onPreview: (preview: Preview) => void;
  onOpenChange: (open: boolean) => void;
};

/** Open the socket and keep it open (retrying every 2 s); returns a function that closes it for good. */
export function connectSocket(clientId: string, handlers: SocketHandlers): () => void {
  let socket: WebSocket | null = null;
  let closed = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(withToken(`${scheme}://${location.host}/ws?clientId=${encodeURIComponent(clientId)}`));
    socket.binaryType = "arraybuffer";
    socket.onopen = () => handlers.onOpenChange(true);
    socket.onclose = () => {
      handlers.onOpenChange(false);
      if (!closed) retry = setTimeout(open, 2000);
    };
    socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        handlers.onMessage(JSON.parse(event.data) as WsMessage);
      } else {
        const preview = decodePreview(event.data as ArrayBuffer);
        if (preview) handlers.onPreview(preview);
      }
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(retry);
    socket?.close();
  };
}
