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
});
