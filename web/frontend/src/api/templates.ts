/** The official workflow templates (package comfyui-workflow-templates), served by Loom under /templates. */
import { withToken } from "./auth";

export type TemplateInfo = { name: string; title?: string; description?: string; mediaType?: string; mediaSubtype?: string };
export type TemplateCategory = { title: string; moduleName?: string; templates: TemplateInfo[] };

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(withToken(path));
  if (!res.ok) throw new Error(`GET ${path} failed: ${res.status}`);
  return (await res.json()) as T;
}

/** The categories with their templates; an empty list when the templates package is not installed. */
export async function fetchTemplateIndex(): Promise<TemplateCategory[]> {
  const res = await fetch(withToken("/templates/index.json"));
  return res.ok ? ((await res.json()) as TemplateCategory[]) : [];
}

export function fetchTemplate(name: string): Promise<unknown> {
  return getJson(`/templates/${encodeURIComponent(name)}.json`);
}

export function thumbnailUrl(t: TemplateInfo): string {
  return withToken(`/templates/${encodeURIComponent(t.name)}-1.${t.mediaSubtype ?? "webp"}`);
}
