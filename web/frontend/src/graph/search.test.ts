import { describe, expect, it } from "vitest";
import type { ObjectInfo } from "../api/types";
import { byCategory, searchNodes } from "./search";

const INFO: ObjectInfo = {
  KSampler: { name: "KSampler", display_name: "KSampler", category: "sampling", description: "Denoise a latent", input: {}, output: [] },
  VAEDecode: { name: "VAEDecode", display_name: "VAE Decode", category: "latent", description: "Latent to image", input: {}, output: [] },
  EmptyLatentImage: { name: "EmptyLatentImage", display_name: "Empty Latent Image", category: "latent", input: {}, output: [] },
  KSamplerAlias: { name: "KSamplerAlias", display_name: "KSampler", category: "sampling", input: {}, output: [], alias_of: "KSampler" },
};

describe("node palette", () => {
  it("groups nodes by category, sorted", () => {
    expect(byCategory(INFO).map(([cat, list]) => [cat, list.map((n) => n.name)])).toEqual([
      ["latent", ["EmptyLatentImage", "VAEDecode"]],
      ["sampling", ["KSampler"]],
    ]);
  });

  it("lists an aliased node once, under its main name", () => {
    expect(searchNodes(INFO, "ksampler").map((n) => n.name)).toEqual(["KSampler"]);
  });

  it("finds nodes by name before description", () => {
    expect(searchNodes(INFO, "latent").map((n) => n.name)).toEqual(["EmptyLatentImage", "KSampler", "VAEDecode"]);
    expect(searchNodes(INFO, "denoise").map((n) => n.name)).toEqual(["KSampler"]);
    expect(searchNodes(INFO, "vae dec").map((n) => n.name)).toEqual(["VAEDecode"]);
  });

  it("ranks exact and prefix matches first, then the more common node", () => {
    const loaders: ObjectInfo = {
      ImageOnlyCheckpointLoader: { name: "ImageOnlyCheckpointLoader", display_name: "Image Only Checkpoint Loader", category: "loaders/video_models", input: {}, output: [] },
      CheckpointSave: { name: "CheckpointSave", display_name: "Save Checkpoint", category: "advanced/model_merging", input: {}, output: [] },
      CheckpointLoaderSimple: { name: "CheckpointLoaderSimple", display_name: "Load Checkpoint", category: "loaders", input: {}, output: [] },
      CheckpointLoader: { name: "CheckpointLoader", display_name: "Load Checkpoint With Config (DEPRECATED)", category: "advanced/loaders", input: {}, output: [], deprecated: true },
      Checkpoint: { name: "Checkpoint", display_name: "Checkpoint", category: "x", input: {}, output: [] },
    };
    expect(searchNodes(loaders, "checkpoint").map((n) => n.name)).toEqual([
      "Checkpoint",
      "CheckpointLoaderSimple",
      "CheckpointSave",
      "ImageOnlyCheckpointLoader",
      "CheckpointLoader",
    ]);
    expect(searchNodes(loaders, "load checkpoint")[0].name).toBe("CheckpointLoaderSimple");
  });

  it("puts a common node above a rare one with an equally good match", () => {
    const info: ObjectInfo = {
      KSamplerAdvanced: { name: "KSamplerAdvanced", display_name: "KSampler (Advanced)", category: "sampling", input: {}, output: [] },
      KSampler: { name: "KSampler", display_name: "KSampler", category: "sampling", input: {}, output: [] },
      KSamplerSelect: { name: "KSamplerSelect", display_name: "KSamplerSelect", category: "sampling", input: {}, output: [] },
    };
    expect(searchNodes(info, "ksamp").map((n) => n.name)).toEqual(["KSampler", "KSamplerAdvanced", "KSamplerSelect"]);
  });
});
