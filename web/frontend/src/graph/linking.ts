/** Finishing a link dropped on empty canvas: which new node types can take it, and on which socket. */
import type { NodeInfo } from "../api/types";
import { inputDefs, isSocketInput } from "./spec";
import { typesCompatible } from "./types";

/** A half-made link: from an output (`end` = "source") or from an input (`end` = "target"). */
export type LooseLink = { nodeId: number; slot: number; end: "source" | "target"; type: string };

/** The socket of a fresh node of `info` that the loose link would attach to, or -1 if none fits. */
export function attachSlot(info: NodeInfo, link: LooseLink): number {
  if (link.end === "source") {
    return inputDefs(info)
      .filter(isSocketInput)
      .findIndex((d) => typesCompatible(link.type, d.type));
  }
  return info.output.findIndex((t) => typesCompatible(t, link.type));
}
