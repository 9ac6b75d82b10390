import { beforeEach, describe, expect, it } from "vitest";
import { decodePreview } from "../api/socket";
import { handleMessage } from "./execution";
import { runtime } from "./runtime";

const send = (type: string, data: Record<string, unknown>) => handleMessage({ type, data });
const node = (id: string) => runtime.get().nodes[id];

describe("websocket events on the canvas", () => {
  beforeEach(() => runtime.set((r) => ({ ...r, nodes: {}, overall: null, promptId: null })));

  it("highlights the running node, shows its steps, then its output files", () => {
    send("execution_start", { prompt_id: "p" });
    send("executing", { node: "3", prompt_id: "p" });
    send("progress", { node: "3", value: 2, max: 8, prompt_id: "p" });
    expect(node("3")).toMatchObject({ running: true, progress: { value: 2, max: 8 } });
    send("executed", { node: "9", output: { images: [{ filename: "a.png", subfolder: "", type: "output" }] }, prompt_id: "p" });
    send("executing", { node: null, prompt_id: "p" });
    expect(node("3").running).toBe(false);
    expect(node("9").outputs).toEqual([{ filename: "a.png", subfolder: "", type: "output" }]);
    expect(runtime.get().promptId).toBeNull();
  });

  it("marks the failing node with the exception", () => {
    send("executing", { node: "5", prompt_id: "p" });
    send("execution_error", { node_id: "5", node_type: "KSampler", exception_type: "engine.models.ValueError", exception_message: "bad shape", prompt_id: "p" });
    expect(node("5")).toMatchObject({ running: false, error: "ValueError: bad shape" });
  });

  it("takes overall progress from the server's summary", () => {
    send("progress_state", { prompt_id: "p", nodes: {}, overall: { nodes_done: 1, nodes_total: 4, fraction: 0.25, eta_s: 3.2 } });
    expect(runtime.get().overall).toEqual({ fraction: 0.25, text: "1/4 nodes, ~4 s left" });
  });
});

describe("binary preview frames", () => {
  const frame = (type: number, format: number) => {
    const buf = new ArrayBuffer(11);
    const view = new DataView(buf);
    view.setUint32(0, type);
    view.setUint32(4, format);
    new Uint8Array(buf).set([1, 2, 3], 8);
    return buf;
  };

  it("decodes type 1 frames with their image format", () => {
    expect(decodePreview(frame(1, 2))).toEqual({ mime: "image/png", bytes: new Uint8Array([1, 2, 3]) });
    expect(decodePreview(frame(1, 1))?.mime).toBe("image/jpeg");
  });

  it("ignores other frame types", () => {
    expect(decodePreview(frame(3, 1))).toBeNull();
  });
});
