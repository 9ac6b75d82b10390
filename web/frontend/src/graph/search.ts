/** Node palette data: nodes grouped by category, and search over names and descriptions. */
import type { NodeInfo, ObjectInfo } from "../api/types";
import { popularity } from "./popularity";

export function byCategory(objectInfo: ObjectInfo): [string, NodeInfo[]][] {
  const groups = new Map<string, NodeInfo[]>();
  for (const info of Object.values(objectInfo)) {
    if (info.deprecated || info.alias_of) continue;
    const cat = info.category || "uncategorized";
    groups.set(cat, [...(groups.get(cat) ?? []), info]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([cat, list]) => [cat, list.sort((a, b) => label(a).localeCompare(label(b)))]);
}

export function label(info: NodeInfo): string {
  return info.display_name || info.name;
}

/** How well `info`'s names match `query`: 0 exact, 1 prefix, 2 a word starts with it, 3 inside a name, 4 elsewhere. */
function matchTier(info: NodeInfo, query: string): number {
  const names = [label(info).toLowerCase(), info.name.toLowerCase()];
  if (names.includes(query)) return 0;
  if (names.some((n) => n.startsWith(query))) return 1;
  if (names.some((n) => n.split(/[\s_\-/()]+/).some((w) => w.startsWith(query)))) return 2;
  return names.some((n) => n.includes(query)) ? 3 : 4;
}

/**
 * Every word of the query must appear in the names, category or description. Exact then prefix matches of the
 * whole query come first, then by how common the node is; deprecated nodes last.
 */
export function searchNodes(objectInfo: ObjectInfo, query: string, limit = 50): NodeInfo[] {
  const q = query.toLowerCase().trim().replace(/\s+/g, " ");
  const words = q.split(" ").filter(Boolean);
  if (!words.length) return [];
  const scored: [number[], NodeInfo][] = [];
  for (const info of Object.values(objectInfo)) {
    if (info.alias_of) continue;
    const name = `${label(info)} ${info.name}`.toLowerCase();
    const text = `${name} ${info.category ?? ""} ${info.description ?? ""}`.toLowerCase();
    if (!words.every((w) => text.includes(w))) continue;
    const inName = words.filter((w) => name.includes(w)).length;
    scored.push([[info.deprecated ? 1 : 0, matchTier(info, q), words.length - inName, popularity(info.name)], info]);
  }
  return scored
    .sort((a, b) => compareKeys(a[0], b[0]) || label(a[1]).localeCompare(label(b[1])))
    .slice(0, limit)
    .map(([, info]) => info);
}

function compareKeys(a: number[], b: number[]): number {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k] - b[k];
  return 0;
}
