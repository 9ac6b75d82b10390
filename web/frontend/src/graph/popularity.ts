/**
 * How common a node is in shared ComfyUI workflows, most used first: search breaks ties between equally good
 * name matches with it, so "checkpoint" offers Load Checkpoint before rarer loaders.
 */
const MOST_USED = [
  "KSampler", "CheckpointLoaderSimple", "CLIPTextEncode", "VAEDecode", "EmptyLatentImage", "SaveImage",
  "LoadImage", "PreviewImage", "VAEEncode", "LoraLoader", "VAELoader", "ControlNetLoader", "ControlNetApplyAdvanced",
  "ImageScale", "UpscaleModelLoader", "ImageUpscaleWithModel", "KSamplerAdvanced", "CLIPSetLastLayer",
  "LatentUpscaleBy", "LatentUpscale", "UNETLoader", "DualCLIPLoader", "CLIPLoader", "ConditioningCombine",
  "ConditioningSetArea", "VAEEncodeForInpaint", "SetLatentNoiseMask", "ImageScaleBy", "LoraLoaderModelOnly",
  "CLIPVisionLoader", "CLIPVisionEncode", "SamplerCustomAdvanced", "RandomNoise", "BasicGuider", "KSamplerSelect",
  "BasicScheduler", "FluxGuidance", "ModelSamplingDiscrete", "ConditioningZeroOut", "CheckpointSave",
];
const RANK = new Map(MOST_USED.map((name, k) => [name, k]));

/** 0 for the most used node; every node not on the list ranks after all that are. */
export function popularity(name: string): number {
  return RANK.get(name) ?? MOST_USED.length;
}
