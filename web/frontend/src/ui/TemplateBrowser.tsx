/** The template browser: the official templates with thumbnails, by category, offering those this server can run. */
import { useEffect, useState } from "react";
import { fetchTemplate, fetchTemplateIndex, thumbnailUrl, type TemplateCategory, type TemplateInfo } from "../api/templates";
import { missingNodeTypes } from "../graph/templates";
import { normalizeWorkflow, type Workflow } from "../graph/workflow";
import { replaceWorkflow } from "../state/document";
import { notify, runtime } from "../state/runtime";
import { useStore } from "../state/store";

/** Missing node types per template name, filled in as the template files arrive (a few at a time). */
function useTemplateChecks(categories: TemplateCategory[] | null): [Map<string, string[] | null>, Map<string, unknown>] {
  const objectInfo = useStore(runtime, (r) => r.objectInfo);
  const [checks, setChecks] = useState(new Map<string, string[] | null>());
  const [files] = useState(new Map<string, unknown>());
  useEffect(() => {
    let stopped = false;
    const queue = (categories ?? []).flatMap((c) => c.templates.map((t) => t.name));
    const worker = async () => {
      for (let name = queue.shift(); name && !stopped; name = queue.shift()) {
        const raw = await fetchTemplate(name).catch(() => null);
        files.set(name, raw);
        const missing = missingNodeTypes(raw, objectInfo);
        if (!stopped) setChecks((m) => new Map(m).set(name, missing));
      }
    };
    void Promise.all(Array.from({ length: 6 }, worker));
    return () => {
      stopped = true;
    };
  }, [categories, objectInfo, files]);
  return [checks, files];
}

function Card({ t, missing, onOpen }: { t: TemplateInfo; missing: string[] | null | undefined; onOpen: () => void }) {
  const runnable = missing !== undefined && missing !== null && missing.length === 0;
  const why = missing === undefined ? "checking…" : missing === null ? "not a canvas workflow" : `needs ${missing.join(", ")}`;
  return (
    <button type="button" className={`template-card${runnable ? "" : " unavailable"}`} data-template={t.name} disabled={!runnable} onClick={onOpen} title={runnable ? t.description : why}>
      <img src={thumbnailUrl(t)} alt="" loading="lazy" />
      <span className="template-title">{t.title ?? t.name}</span>
      {!runnable && <span className="template-why">{why}</span>}
    </button>
  );
}

export function TemplateBrowser({ onClose }: { onClose: () => void }) {
  const [categories, setCategories] = useState<TemplateCategory[] | null>(null);
  const [showAll, setShowAll] = useState(false);
  useEffect(() => {
    fetchTemplateIndex().then(setCategories, () => setCategories([]));
  }, []);
  const [checks, files] = useTemplateChecks(categories);
  const open = (t: TemplateInfo) => {
    replaceWorkflow(normalizeWorkflow(files.get(t.name) as Workflow));
    notify(`Loaded template “${t.title ?? t.name}”.`);
    onClose();
  };
  const visible = (t: TemplateInfo) => showAll || checks.get(t.name)?.length === 0;
  const total = categories?.reduce((n, c) => n + c.templates.length, 0) ?? 0;
  const runnable = [...checks.values()].filter((m) => m?.length === 0).length;
  return (
    <div className="modal-backdrop" onMouseDown={onClose}>
      <div className="modal template-browser" onMouseDown={(e) => e.stopPropagation()}>
        <div className="template-head">
          <h2>Templates</h2>
          <span className="template-count">
            {runnable} of {total} run on this server{checks.size < total ? " (checking…)" : ""}
          </span>
          <label>
            <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.target.checked)} /> show all
          </label>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
        {categories?.length === 0 && <p>No templates: install the comfyui-workflow-templates package on the server.</p>}
        <div className="template-list">
          {categories?.map((c) => {
            const shown = c.templates.filter(visible);
            return shown.length ? (
              <section key={c.title}>
                <h3>{c.title}</h3>
                <div className="template-grid">
                  {shown.map((t) => (
                    <Card key={t.name} t={t} missing={checks.get(t.name)} onOpen={() => open(t)} />
                  ))}
                </div>
              </section>
            ) : null;
          })}
        </div>
      </div>
    </div>
  );
}
