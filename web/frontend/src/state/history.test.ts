import { describe, expect, it } from "vitest";
import type { HistoryEntry } from "../api/types";
import { historyOutcome } from "./history";

const entry = (status_str: string, messages: [string, Record<string, unknown>][]): HistoryEntry => ({
  prompt: [1, "p", {}],
  outputs: {},
  status: { status_str, completed: status_str === "success", messages },
});

describe("history outcome", () => {
  it("says why a run failed: the node and the exception message", () => {
    const failed = entry("error", [["execution_start", {}], ["execution_error",
      { node_id: "4", node_type: "CheckpointLoaderSimple", exception_message: "x.safetensors looks like a LoRA" }]]);
    expect(historyOutcome(failed)).toEqual({ status: "error",
      reason: "#4 CheckpointLoaderSimple: x.safetensors looks like a LoRA" });
  });

  it("tells an interrupted run from a failed one", () => {
    const stopped = entry("error", [["execution_interrupted", { node_id: "3", node_type: "KSampler" }]]);
    expect(historyOutcome(stopped)).toEqual({ status: "interrupted", reason: "stopped at #3 KSampler" });
  });

  it("keeps the server's status for a successful run", () => {
    expect(historyOutcome(entry("success", [["execution_success", {}]]))).toEqual({ status: "success" });
  });
});
