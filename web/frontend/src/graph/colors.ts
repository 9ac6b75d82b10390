/** The colour choices of ComfyUI's menus (LiteGraph's node and group palettes), so files round-trip unchanged. */
export type NodeColor = { color: string; bgcolor: string };

export const NODE_COLORS: Record<string, NodeColor> = {
  red: { color: "#322", bgcolor: "#533" },
  brown: { color: "#332922", bgcolor: "#593930" },
  green: { color: "#232", bgcolor: "#353" },
  blue: { color: "#223", bgcolor: "#335" },
  pale_blue: { color: "#2a363b", bgcolor: "#3f5159" },
  cyan: { color: "#233", bgcolor: "#355" },
  purple: { color: "#323", bgcolor: "#535" },
  yellow: { color: "#432", bgcolor: "#653" },
  black: { color: "#222", bgcolor: "#000" },
};

export const GROUP_COLORS: Record<string, string> = {
  red: "#A88",
  brown: "#b06634",
  green: "#8A8",
  blue: "#88A",
  pale_blue: "#3f789e",
  cyan: "#8AA",
  purple: "#a1309b",
  yellow: "#b58b2a",
  black: "#444",
};
