import { describe, expect, it } from "vitest";
import type { ObjectInfo } from "../api/types";
import { copyNodes, pasteNodes } from "./clipboard";
import { attachSlot } from "./linking";
import { connect, createNode, removeNodes } from "./edit";
import { emptyWorkflow, type Workflow } from "./workflow";

const INFO: ObjectInfo = {
  Source: { input: {}, output: ["IMAGE"], name: "Source" },
  Invert: { input: { required: { image: ["IMAGE"] } }, output: ["IMAGE"], name: "Invert" },
  Decode: { input: { required: { samples: ["LATENT"] } }, output: ["IMAGE"], name: "Decode" },
};

function chain(): Workflow {
  let wf = emptyWorkflow();
  for (const t of ["Source", "Invert", "Invert", "Decode"]) wf = createNode(wf, INFO[t], [0, 0])[0];
  return wf;
}

describe("editing the graph", () => {
  it("connects compatible sockets and records the link on both ends", () => {
    const wf = connect(chain(), 1, 0, 2, 0) as Workflow;
    expect(wf.links).toEqual([[1, 1, 0, 2, 0, "IMAGE"]]);
    expect(wf.nodes[1].inputs[0].link).toBe(1);
    expect(wf.nodes[0].outputs[0].links).toEqual([1]);
  });

  it("refuses incompatible types with a reason", () => {
    expect(connect(chain(), 1, 0, 4, 0)).toMatch(/Cannot connect IMAGE to "samples"/);
  });

  it("refuses cycles", () => {
    const wf = connect(chain(), 2, 0, 3, 0) as Workflow;
    expect(connect(wf, 3, 0, 2, 0)).toMatch(/cycle/);
  });

  it("replaces the link already feeding an input", () => {
    let wf = connect(chain(), 1, 0, 3, 0) as Workflow;
    wf = connect(wf, 2, 0, 3, 0) as Workflow;
    expect(wf.links.map((l) => l[1])).toEqual([2]);
    expect(wf.nodes[0].outputs[0].links).toEqual([]);
  });

  it("deleting a node removes its links from the other nodes", () => {
    const wf = removeNodes(connect(chain(), 1, 0, 2, 0) as Workflow, new Set([1]));
    expect(wf.links).toEqual([]);
    expect(wf.nodes[0].inputs[0].link).toBeNull();
  });

  it("pastes copies with fresh ids, keeping only links inside the copy", () => {
    let wf = connect(chain(), 1, 0, 2, 0) as Workflow;
    wf = connect(wf, 2, 0, 3, 0) as Workflow;
    const [pasted, ids] = pasteNodes(wf, copyNodes(wf, new Set([2, 3])), [10, 10]);
    expect(ids).toEqual([5, 6]);
    expect(pasted.links.at(-1)).toEqual([3, 5, 0, 6, 0, "IMAGE"]);
    expect(pasted.nodes.find((n) => n.id === 5)!.inputs[0].link).toBeNull();
  });
});

describe("finishing a link dropped on empty canvas", () => {
  it("offers the socket of a new node that takes the link's type", () => {
    expect(attachSlot(INFO.Invert, { nodeId: 1, slot: 0, end: "source", type: "IMAGE" })).toBe(0);
    expect(attachSlot(INFO.Decode, { nodeId: 1, slot: 0, end: "source", type: "IMAGE" })).toBe(-1);
    expect(attachSlot(INFO.Source, { nodeId: 2, slot: 0, end: "target", type: "IMAGE" })).toBe(0);
  });
});
