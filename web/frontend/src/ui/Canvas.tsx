/** The graph editor surface: React Flow showing the workflow document, with connect rules, drops and viewport. */
import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  useReactFlow,
  type Connection,
  type Edge,
  type FinalConnectionState,
  type Node,
  type OnConnectStartParams,
} from "@xyflow/react";
import { useEffect, useMemo, useRef, type DragEvent, type MouseEvent } from "react";
import { connect, connectionProblem, removeLinks } from "../graph/edit";
import type { LooseLink } from "../graph/linking";
import { addNodeAt } from "../state/commands";
import { commit, doc, edgeSelection, groupSelection, loads, selection } from "../state/document";
import { typePrimitives } from "../graph/virtual";
import { notify, runtime } from "../state/runtime";
import { useStore } from "../state/store";
import { applyEdgeSelection, applyNodeChanges, groupId, measured } from "./canvasChanges";
import { GroupNode } from "./GroupNode";
import { LoomNode } from "./LoomNode";
import { typeColor } from "./theme";

const nodeTypes = { loom: LoomNode, loomGroup: GroupNode };
export const NODE_DRAG_TYPE = "application/x-loom-node";

export type SearchRequest = { x: number; y: number; link?: LooseLink };
/** What was right-clicked: the screen point for the menu, the canvas point for anything it adds. */
export type MenuRequest = { screen: { x: number; y: number }; at: { x: number; y: number } } & (
  | { kind: "canvas" }
  | { kind: "node"; id: number }
  | { kind: "link"; id: number }
  | { kind: "group"; index: number }
);

function looseLink(nodeId: string, handleId: string | null | undefined, end: "source" | "target"): LooseLink | undefined {
  const node = doc.get().nodes.find((n) => n.id === Number(nodeId));
  const slot = Number(handleId?.slice(1));
  const type = end === "source" ? node?.outputs[slot]?.type : node?.inputs[slot]?.type;
  return type ? { nodeId: Number(nodeId), slot, end, type } : undefined;
}

function parseConnection(c: Connection | Edge): [number, number, number, number] {
  return [Number(c.source), Number(c.sourceHandle?.slice(1)), Number(c.target), Number(c.targetHandle?.slice(1))];
}

export function Canvas({ onSearch, onMenu }: { onSearch: (request: SearchRequest) => void; onMenu: (request: MenuRequest) => void }) {
  const wf = useStore(doc, (w) => w);
  const nodeSel = useStore(selection, (s) => s);
  const edgeSel = useStore(edgeSelection, (s) => s);
  const groupSel = useStore(groupSelection, (s) => s);
  const loaded = useStore(loads, (n) => n);
  const sizes = useStore(measured, (m) => m);
  const rf = useReactFlow();

  const rfRef = useRef(rf);
  rfRef.current = rf;
  useEffect(() => {
    // Only when a workflow is loaded (or the page opens): restore the saved viewport or fit the graph.
    const wf = doc.get();
    const ds = wf.extra.ds as { scale: number; offset: [number, number] } | undefined;
    const frame = requestAnimationFrame(() => {
      if (loaded === 0 && ds) rfRef.current.setViewport({ x: ds.offset[0] * ds.scale, y: ds.offset[1] * ds.scale, zoom: ds.scale });
      else if (wf.nodes.length) rfRef.current.fitView({ padding: 0.15, maxZoom: 1 });
    });
    return () => cancelAnimationFrame(frame);
  }, [loaded]);

  const nodes: Node[] = useMemo(
    () => [
      ...wf.groups.map((g, k) => ({
        id: groupId(k),
        type: "loomGroup",
        position: { x: g.bounding[0], y: g.bounding[1] },
        data: { index: k },
        style: { width: g.bounding[2], height: g.bounding[3] },
        width: g.bounding[2],
        height: g.bounding[3],
        measured: sizes.get(groupId(k)),
        zIndex: -1,
        selected: groupSel.has(k),
        dragHandle: ".group-title",
      })),
      ...wf.nodes.map((n) => ({ id: String(n.id), type: "loom", position: { x: n.pos[0], y: n.pos[1] }, data: {}, draggable: !n.flags.pinned, selected: nodeSel.has(n.id), measured: sizes.get(String(n.id)) })),
    ],
    [wf.nodes, wf.groups, nodeSel, groupSel, sizes],
  );

  const edges: Edge[] = useMemo(
    () =>
      wf.links.map((l) => ({
        id: String(l[0]),
        source: String(l[1]),
        sourceHandle: `o${l[2]}`,
        target: String(l[3]),
        targetHandle: `i${l[4]}`,
        selected: edgeSel.has(String(l[0])),
        style: { stroke: typeColor(l[5]), strokeWidth: edgeSel.has(String(l[0])) ? 3.5 : 2 },
      })),
    [wf.links, edgeSel],
  );

  const onConnect = (c: Connection) => {
    const next = connect(doc.get(), ...parseConnection(c));
    if (typeof next === "string") notify(next, "error");
    else commit(typePrimitives(next, runtime.get().objectInfo));
  };

  /** The link of the input a drag started from; letting go over empty canvas detaches it. */
  const pickedLink = useRef<number | null>(null);
  const onConnectStart = (_: unknown, params: OnConnectStartParams) => {
    const node = doc.get().nodes.find((n) => n.id === Number(params.nodeId));
    pickedLink.current = params.handleType === "target" ? (node?.inputs[Number(params.handleId?.slice(1))]?.link ?? null) : null;
  };

  const onConnectEnd = (event: globalThis.MouseEvent | TouchEvent, state: FinalConnectionState) => {
    if (!state.fromHandle) return;
    const onPane = (event.target as Element).classList.contains("react-flow__pane");
    if (!state.toHandle && onPane && pickedLink.current !== null) {
      commit(removeLinks(doc.get(), new Set([pickedLink.current])));
      return;
    }
    if (!state.toHandle && onPane) {
      const point = "clientX" in event ? event : event.changedTouches[0];
      const link = looseLink(state.fromHandle.nodeId, state.fromHandle.id, state.fromHandle.type);
      onSearch({ ...rf.screenToFlowPosition({ x: point.clientX, y: point.clientY }), link });
      return;
    }
    if (!state.toHandle || state.isValid) return;
    const [from, to] = state.fromHandle.type === "source" ? [state.fromHandle, state.toHandle] : [state.toHandle, state.fromHandle];
    const problem = connectionProblem(doc.get(), Number(from.nodeId), Number(from.id?.slice(1)), Number(to.nodeId), Number(to.id?.slice(1)));
    if (problem) notify(problem, "error");
  };

  /** Dragging a link's end to another socket moves it; dropping it on empty canvas removes it. */
  const onReconnect = (old: Edge, c: Connection) => {
    const next = connect(removeLinks(doc.get(), new Set([Number(old.id)])), ...parseConnection(c));
    if (typeof next === "string") notify(next, "error");
    else commit(next);
  };
  const onReconnectEnd = (_: unknown, edge: Edge, __: unknown, state: FinalConnectionState) => {
    if (!state.toHandle && doc.get().links.some((l) => l[0] === Number(edge.id))) commit(removeLinks(doc.get(), new Set([Number(edge.id)])));
  };

  const onDrop = (e: DragEvent) => {
    const type = e.dataTransfer.getData(NODE_DRAG_TYPE);
    if (!type) return;
    e.preventDefault();
    e.stopPropagation();
    addNodeAt(type, rf.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  };

  const onDoubleClick = (e: MouseEvent) => {
    if ((e.target as Element).classList.contains("react-flow__pane")) onSearch(rf.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  };

  const where = (e: MouseEvent | globalThis.MouseEvent) => {
    e.preventDefault();
    return { screen: { x: e.clientX, y: e.clientY }, at: rf.screenToFlowPosition({ x: e.clientX, y: e.clientY }) };
  };

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      onNodesChange={applyNodeChanges}
      onEdgesChange={(changes) => edgeSelection.set((cur) => applyEdgeSelection(changes, cur))}
      onConnect={onConnect}
      onConnectStart={onConnectStart}
      onConnectEnd={onConnectEnd}
      onReconnect={onReconnect}
      onReconnectEnd={onReconnectEnd}
      isValidConnection={(c) => connectionProblem(doc.get(), ...parseConnection(c)) === null}
      onMoveEnd={(_, vp) => doc.set((w) => ({ ...w, extra: { ...w.extra, ds: { scale: vp.zoom, offset: [vp.x / vp.zoom, vp.y / vp.zoom] } } }))}
      onDragOver={(e) => e.preventDefault()}
      onDrop={onDrop}
      onDoubleClick={onDoubleClick}
      onPaneContextMenu={(e) => onMenu({ ...where(e), kind: "canvas" })}
      onNodeContextMenu={(e, n) => onMenu(n.type === "loomGroup" ? { ...where(e), kind: "group", index: (n.data as { index: number }).index } : { ...where(e), kind: "node", id: Number(n.id) })}
      onEdgeContextMenu={(e, edge) => onMenu({ ...where(e), kind: "link", id: Number(edge.id) })}
      zoomOnDoubleClick={false}
      deleteKeyCode={null}
      selectionKeyCode="Shift"
      multiSelectionKeyCode={["Control", "Meta"]}
      minZoom={0.1}
      maxZoom={3}
      colorMode="dark"
      proOptions={{ hideAttribution: true }}
    >
      <Background variant={BackgroundVariant.Dots} gap={24} size={1.5} color="#3a3f4b" />
      <MiniMap pannable zoomable nodeColor={(n) => (n.type === "loomGroup" ? "#2c3e50" : "#5c6370")} maskColor="rgba(16,18,22,0.7)" />
      <Controls showInteractive={false} />
    </ReactFlow>
  );
}
