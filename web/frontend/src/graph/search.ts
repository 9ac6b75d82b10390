/** Node palette data: nodes grouped by category, and search over names and descriptions. */
import type { NodeInfo, ObjectInfo } from "../api/types";

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

/** Every word of the query must appear; name matches rank before description-only matches. */
export function searchNodes(objectInfo: ObjectInfo, query: string, limit = 50): NodeInfo[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const scored: [number, NodeInfo][] = [];
  for (const info of Object.values(objectInfo)) {
    if (info.alias_of) continue;
    const name = `${label(info)} ${info.name}`.toLowerCase();
    const text = `${name} ${info.category ?? ""} ${info.description ?? ""}`.toLowerCase();
    if (!words.every((w) => text.includes(w))) continue;
    let score = words.filter((w) => name.includes(w)).length * 10;
    if (name.startsWith(words[0])) score += 5;
    if (info.deprecated) score -= 20;
    scored.push([score, info]);
  }
  return scored
    .sort((a, b) => b[0] - a[0] || label(a[1]).localeCompare(label(b[1])))
    .slice(0, limit)
    .map(([, info]) => info);
}
