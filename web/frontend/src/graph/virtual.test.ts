import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ApiPrompt, ObjectInfo } from "../api/types";
import { workflowToApi } from "./convert";
import { apiToWorkflow } from "./layout";
import { connect } from "./edit";
import { createVirtualNode, insertReroute, typePrimitives } from "./virtual";
import { convertWidgetToInput } from "./widgets";
import { widgetSlots } from "./spec";
import type { Workflow } from "./workflow";

const CASES = join(__dirname, "../../../../tests/shared_cases/ui_to_api");
const c = JSON.parse(readFileSync(join(CASES, "basic_widgets_links_titles.json"), "utf8")) as { object_info: ObjectInfo; api: ApiPrompt };

describe("canvas-only nodes from the menus", () => {
  it("a Reroute spliced into every link leaves the prompt unchanged", () => {
    let wf = apiToWorkflow(c.api, c.object_info);
    const links = [...wf.links];
    for (const link of links) wf = insertReroute(wf, link[0], [0, 0]);
    expect(wf.nodes.filter((n) => n.type === "Reroute")).toHaveLength(links.length);
    expect(wf.links).toHaveLength(2 * links.length);
    expect(workflowToApi(wf, c.object_info)).toEqual(c.api);
  });

  it("a Reroute takes the type of the link it splits", () => {
    const wf = apiToWorkflow(c.api, c.object_info);
    const link = wf.links[0];
    const out = insertReroute(wf, link[0], [5, 5]);
    const reroute = out.nodes.find((n) => n.type === "Reroute")!;
    expect(reroute.outputs[0].type).toBe(link[5]);
    expect(out.links.map((l) => l[0])).not.toContain(link[0]);
  });

  it("a Note and a Primitive never reach the prompt", () => {
    let wf = apiToWorkflow(c.api, c.object_info);
    [wf] = createVirtualNode(wf, "Note", [0, 0]);
    [wf] = createVirtualNode(wf, "PrimitiveNode", [0, 0]);
    expect(workflowToApi(wf, c.object_info)).toEqual(c.api);
  });

  it("a Primitive linked to a converted widget takes its type and value, and feeds the prompt", () => {
    let wf = apiToWorkflow(c.api, c.object_info);
    const target = wf.nodes.find((n) => n.type === "EmptyImage")!;
    const slot = widgetSlots(c.object_info.EmptyImage, target).find((s) => s.def.name === "width")!;
    wf = convertWidgetToInput(wf, target.id, slot);
    let prim;
    [wf, prim] = createVirtualNode(wf, "PrimitiveNode", [0, 0]);
    const at = wf.nodes.find((n) => n.id === target.id)!.inputs.findIndex((i) => i.name === "width");
    wf = typePrimitives(connect(wf, prim.id, 0, target.id, at) as Workflow, c.object_info);
    const typed = wf.nodes.find((n) => n.id === prim.id)!;
    expect(typed.outputs[0].type).toBe("INT");
    expect(typed.widgets_values).toEqual([c.api[String(target.id)].inputs.width]);
    expect(workflowToApi(wf, c.object_info)).toEqual(c.api);
  });
});
