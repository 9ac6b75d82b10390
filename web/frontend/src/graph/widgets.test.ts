import { describe, expect, it } from "vitest";
import type { NodeInfo, ObjectInfo } from "../api/types";
import { workflowToApi } from "./convert";
import { connect, createNode } from "./edit";
import { defaultWidgetValues, widgetSlots } from "./spec";
import { pruneUnlinkedWidgetInputs, reconcileSockets } from "./reconcile";
import { applyControlAfterGenerate, convertInputToWidget, convertWidgetToInput, normalizeNumber, setControlMode } from "./widgets";
import { emptyWorkflow, type Workflow } from "./workflow";

const SAMPLER: NodeInfo = {
  name: "Sampler",
  input: {
    required: {
      seed: ["INT", { default: 5, min: 0, max: 100, control_after_generate: true }],
      steps: ["INT", { default: 20, min: 1, max: 50, step: 1 }],
      denoise: ["FLOAT", { default: 1, min: 0, max: 1, step: 0.01, round: 0.01 }],
      width: ["INT", { default: 512, min: 16, max: 4096, step: 8 }],
    },
  },
  output: ["LATENT"],
};
const INFO: ObjectInfo = { Sampler: SAMPLER, Steps: { name: "Steps", input: {}, output: ["INT"] } };

function sampler(control: string): Workflow {
  const [wf, node] = createNode(emptyWorkflow(), SAMPLER, [0, 0]);
  return setControlMode(wf, node.id, widgetSlots(SAMPLER, node)[0], control as never);
}
const seedAfterQueue = (control: string, random = () => 0.5) =>
  (applyControlAfterGenerate(sampler(control), INFO, random).nodes[0].widgets_values as unknown[])[0];

describe("widget values", () => {
  it("a fresh node holds defaults, with 'randomize' after a controlled seed", () => {
    expect(defaultWidgetValues(SAMPLER)).toEqual([5, "randomize", 20, 1, 512]);
  });

  it("control_after_generate moves the seed after each queue", () => {
    expect(seedAfterQueue("fixed")).toBe(5);
    expect(seedAfterQueue("increment")).toBe(6);
    expect(seedAfterQueue("decrement")).toBe(4);
    expect(seedAfterQueue("randomize", () => 0.5)).toBe(50);
  });

  it("control never leaves min/max", () => {
    const wf = sampler("decrement");
    const atZero = { ...wf, nodes: [{ ...wf.nodes[0], widgets_values: [0, "decrement", 20, 1, 512] }] };
    expect((applyControlAfterGenerate(atZero, INFO).nodes[0].widgets_values as unknown[])[0]).toBe(0);
  });

  it("the queued prompt carries the value before the control step, without the control choice", () => {
    expect(workflowToApi(sampler("increment"), INFO)["1"].inputs).toEqual({ seed: 5, steps: 20, denoise: 1, width: 512 });
  });

  it("numbers snap to step/round and stay within min/max", () => {
    const [seed, steps, denoise, width] = widgetSlots(SAMPLER).map((s) => s.def);
    expect(normalizeNumber(steps, 99)).toBe(50);
    expect(normalizeNumber(steps, 2.6)).toBe(3);
    expect(normalizeNumber(denoise, 0.123)).toBe(0.12);
    expect(normalizeNumber(width, 517)).toBe(520);
    expect(normalizeNumber(seed, Number.NaN)).toBe(5);
  });
});

describe("widget <-> socket conversion", () => {
  const stepsSlot = widgetSlots(SAMPLER)[1];

  function converted(): Workflow {
    let wf = sampler("fixed");
    wf = createNode(wf, INFO.Steps, [0, 0])[0];
    wf = convertWidgetToInput(wf, 1, stepsSlot);
    return connect(wf, 2, 0, 1, 0) as Workflow;
  }

  it("a converted widget takes its value from the link", () => {
    const wf = converted();
    expect(wf.nodes[0].inputs).toEqual([{ name: "steps", type: "INT", link: 1, widget: { name: "steps" } }]);
    expect(workflowToApi(wf, INFO)["1"].inputs.steps).toEqual(["2", 0]);
  });

  it("converting back drops the link and restores the widget value", () => {
    const wf = convertInputToWidget(converted(), 1, "steps");
    expect(wf.links).toEqual([]);
    expect(wf.nodes[0].inputs).toEqual([]);
    expect(wf.nodes[1].outputs[0].links).toEqual([]);
    expect(workflowToApi(wf, INFO)["1"].inputs.steps).toBe(20);
  });

  it("unlinked widget sockets from newer files go back to widgets on load, linked ones stay", () => {
    let wf = convertWidgetToInput(converted(), 1, widgetSlots(SAMPLER)[2]);
    wf = pruneUnlinkedWidgetInputs(wf, INFO);
    expect(wf.nodes[0].inputs.map((i) => i.name)).toEqual(["steps"]);
  });
});

describe("loading files written against another version of a node", () => {
  it("adds sockets and outputs the server declares but the file lacks", () => {
    const info: ObjectInfo = {
      Mix: { name: "Mix", input: { required: { a: ["IMAGE"] }, optional: { b: ["IMAGE"], mask: ["MASK"] } }, output: ["IMAGE", "MASK"] },
    };
    const wf = emptyWorkflow();
    wf.nodes.push({ id: 1, type: "Mix", pos: [0, 0], size: [200, 80], flags: {}, order: 0, mode: 0, properties: {}, widgets_values: [], inputs: [{ name: "a", type: "IMAGE", link: null }], outputs: [{ name: "IMAGE", type: "IMAGE", links: [] }] });
    const node = reconcileSockets(wf, info).nodes[0];
    expect(node.inputs.map((i) => i.name)).toEqual(["a", "b", "mask"]);
    expect(node.outputs.map((o) => o.type)).toEqual(["IMAGE", "MASK"]);
  });
});
