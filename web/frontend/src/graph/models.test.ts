import { describe, expect, it } from "vitest";
import type { ObjectInfo } from "../api/types";
import { declaredModels, missingModels } from "./models";
import { normalizeWorkflow, type Workflow } from "./workflow";

const model = (name: string, directory: string) => ({ name, url: `https://example.org/${name}`, directory });

const wf = normalizeWorkflow({
  nodes: [
    { id: 1, type: "CheckpointLoaderSimple", properties: { models: [model("a.safetensors", "checkpoints")] } },
    { id: 2, type: "LoraLoader", properties: { models: [model("b.safetensors", "loras"), model("a.safetensors", "checkpoints"), { name: "no url" }] } },
    { id: 3, type: "VAELoader", properties: { models: [{ ...model("c.safetensors", "vae"), hash: "ab".repeat(32), hash_type: "SHA256" }] } },
  ],
  links: [],
} as unknown as Workflow);

const INFO: ObjectInfo = {
  CheckpointLoaderSimple: { name: "CheckpointLoaderSimple", category: "loaders", output: [], input: { required: { ckpt_name: [["a.safetensors", "z.safetensors"]] } } },
  LoraLoader: { name: "LoraLoader", category: "loaders", output: [], input: { required: { lora_name: ["COMBO", { options: ["other.safetensors"] }] } } },
};

describe("models a workflow needs", () => {
  it("reads each node's models once, with url, folder and sha256 when given", () => {
    expect(declaredModels(wf).map((m) => [m.directory, m.name, m.sha256])).toEqual([
      ["checkpoints", "a.safetensors", undefined],
      ["loras", "b.safetensors", undefined],
      ["vae", "c.safetensors", "ab".repeat(32)],
    ]);
  });

  it("lists only those no node offers", () => {
    expect(missingModels(wf, INFO).map((m) => m.name)).toEqual(["b.safetensors", "c.safetensors"]);
  });
});
