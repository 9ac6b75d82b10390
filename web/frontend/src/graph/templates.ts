/** Which saved workflows this server can run (every node type installed), and the txt2img graph a first visit opens. */
import type { ApiPrompt, ObjectInfo } from "../api/types";
import { apiToWorkflow } from "./layout";
import { VIRTUAL_TYPES } from "./spec";
import { isUiWorkflow, type Workflow } from "./workflow";

/** Node types the workflow uses that this server lacks (canvas-only nodes never count); null when not a UI workflow. */
export function missingNodeTypes(raw: unknown, objectInfo: ObjectInfo): string[] | null {
  if (!isUiWorkflow(raw)) return null;
  const types = new Set((raw.nodes as { type: string }[]).map((n) => n.type));
  return [...types].filter((t) => !VIRTUAL_TYPES.has(t) && !objectInfo[t]).sort();
}

const TXT2IMG: ApiPrompt = {
  "4": { class_type: "CheckpointLoaderSimple", inputs: {} },
  "6": { class_type: "CLIPTextEncode", inputs: { text: "a lighthouse on a cliff at sunset, oil painting", clip: ["4", 1] } },
  "7": { class_type: "CLIPTextEncode", inputs: { text: "blurry, low quality", clip: ["4", 1] } },
  "5": { class_type: "EmptyLatentImage", inputs: { width: 512, height: 512, batch_size: 1 } },
  "3": { class_type: "KSampler", inputs: { model: ["4", 0], positive: ["6", 0], negative: ["7", 0], latent_image: ["5", 0], seed: 0, steps: 20, cfg: 8, sampler_name: "euler", scheduler: "normal", denoise: 1 } },
  "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
  "9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "Loom" } },
};

/** Text to image with Loom's nodes (the first checkpoint the server lists); null when a node is missing. */
export function defaultWorkflow(objectInfo: ObjectInfo): Workflow | null {
  try {
    return apiToWorkflow(TXT2IMG, objectInfo);
  } catch {
    return null;
  }
}
