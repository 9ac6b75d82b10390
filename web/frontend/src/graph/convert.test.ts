import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ApiPrompt, ObjectInfo } from "../api/types";
import { workflowToApi } from "./convert";
import { apiToWorkflow } from "./layout";
import { normalizeWorkflow, type Workflow } from "./workflow";

/** The same files the Python converter (engine/graph/ui_format.py) is checked against. */
const CASES = join(__dirname, "../../../../tests/shared_cases/ui_to_api");
type Case = { ui: Workflow; object_info: ObjectInfo; api: ApiPrompt };

describe("UI -> API conversion matches the engine on the shared cases", () => {
  for (const file of readdirSync(CASES).filter((f) => f.endsWith(".json"))) {
    it(file, () => {
      const c = JSON.parse(readFileSync(join(CASES, file), "utf8")) as Case;
      expect(workflowToApi(normalizeWorkflow(c.ui), c.object_info)).toEqual(c.api);
    });
  }
});

describe("API -> UI import", () => {
  const c = JSON.parse(readFileSync(join(CASES, "basic_widgets_links_titles.json"), "utf8")) as Case;

  it("round-trips back to the same prompt with the same node ids", () => {
    expect(workflowToApi(apiToWorkflow(c.api, c.object_info), c.object_info)).toEqual(c.api);
  });

  it("lays nodes out left to right along the links", () => {
    const wf = apiToWorkflow(c.api, c.object_info);
    const x = (id: number) => wf.nodes.find((n) => n.id === id)!.pos[0];
    expect(x(1)).toBeLessThan(x(2));
    expect(x(2)).toBeLessThan(x(3));
  });

  it("turns a linked widget input into a socket", () => {
    const prompt: ApiPrompt = {
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, color: 0 } },
      "2": { class_type: "EmptyImage", inputs: { width: ["9", 0], height: 4, color: 0 } },
      "9": { class_type: "Width", inputs: {} },
    };
    const info = { ...c.object_info, Width: { input: {}, output: ["INT"], name: "Width" } };
    const wf = apiToWorkflow(prompt, info);
    expect(wf.nodes.find((n) => n.id === 2)!.inputs).toEqual([{ name: "width", type: "INT", link: 1, widget: { name: "width" } }]);
    expect(workflowToApi(wf, info)["2"].inputs).toEqual({ width: ["9", 0], height: 4, color: 0 });
  });

  it("refuses unknown node types by name", () => {
    expect(() => apiToWorkflow({ "1": { class_type: "Mystery", inputs: {} } }, c.object_info)).toThrow(/Mystery/);
  });
});
