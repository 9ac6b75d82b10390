/** Socket colours per type, so a glance tells what connects to what. */
const TYPE_COLORS: Record<string, string> = {
  MODEL: "#b39ddb",
  CLIP: "#ffd54f",
  VAE: "#ef5350",
  LATENT: "#f48fb1",
  IMAGE: "#64b5f6",
  MASK: "#81c784",
  CONDITIONING: "#ffa726",
  CONTROL_NET: "#26a69a",
  CLIP_VISION: "#a1887f",
  CLIP_VISION_OUTPUT: "#a1887f",
  INT: "#9ccc65",
  FLOAT: "#aed581",
  STRING: "#90a4ae",
  BOOLEAN: "#4dd0e1",
  COMBO: "#90a4ae",
};

export function typeColor(type: string): string {
  return TYPE_COLORS[type.split(",")[0].trim()] ?? "#bdbdbd";
}
