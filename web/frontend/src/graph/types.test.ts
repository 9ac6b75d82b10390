import { describe, expect, it } from "vitest";
import { connectionRefusal, typesCompatible } from "./types";

describe("socket type compatibility", () => {
  it("connects equal types and refuses different ones", () => {
    expect(typesCompatible("IMAGE", "IMAGE")).toBe(true);
    expect(typesCompatible("IMAGE", "LATENT")).toBe(false);
  });

  it("lets * match anything on either side", () => {
    expect(typesCompatible("*", "MODEL")).toBe(true);
    expect(typesCompatible("VAE", "*")).toBe(true);
  });

  it("treats comma lists as unions", () => {
    expect(typesCompatible("INT", "INT,FLOAT")).toBe(true);
    expect(typesCompatible("FLOAT, STRING", "INT,FLOAT")).toBe(true);
    expect(typesCompatible("STRING", "INT,FLOAT")).toBe(false);
  });

  it("explains a refusal with both types and the input name", () => {
    expect(connectionRefusal("IMAGE", "LATENT", "samples")).toBe('Cannot connect IMAGE to "samples": it expects LATENT.');
    expect(connectionRefusal("IMAGE", "IMAGE", "image")).toBeNull();
  });
});
