import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ObjectInfo } from "../api/types";
import { workflowToApi } from "./convert";
import { defaultWorkflow, missingNodeTypes } from "./templates";

/** ComfyUI's own /object_info (the node parity test's data, which leaves out each entry's name). */
const COMFY = join(__dirname, "../../../../tests/nodes/data/comfy_object_info.json");
const parity = JSON.parse(readFileSync(COMFY, "utf8")).nodes as ObjectInfo;
const info: ObjectInfo = Object.fromEntries(Object.entries(parity).map(([name, v]) => [name, { ...v, name }]));

describe("templates", () => {
  it("names the node types a workflow needs that the server lacks, ignoring canvas-only nodes", () => {
    const wf = { nodes: [{ type: "KSampler" }, { type: "Reroute" }, { type: "Note" }, { type: "FancyPackNode" }], links: [] };
    expect(missingNodeTypes(wf, { KSampler: info.KSampler })).toEqual(["FancyPackNode"]);
    expect(missingNodeTypes({ "1": { class_type: "KSampler" } }, {})).toBeNull();
  });

  it("the default workflow is a complete text-to-image prompt when the nodes exist, and null when not", () => {
    const prompt = workflowToApi(defaultWorkflow(info)!, info);
    const types = Object.values(prompt).map((n) => n.class_type);
    expect(types.sort()).toEqual(["CLIPTextEncode", "CLIPTextEncode", "CheckpointLoaderSimple", "EmptyLatentImage", "KSampler", "SaveImage", "VAEDecode"]);
    const sampler = Object.values(prompt).find((n) => n.class_type === "KSampler")!;
    expect(sampler.inputs).toMatchObject({ steps: 20, cfg: 8, sampler_name: "euler", scheduler: "normal", denoise: 1 });
    expect(defaultWorkflow({})).toBeNull();
  });
});
