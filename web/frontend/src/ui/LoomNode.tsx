/** How one workflow node looks on the canvas: header, sockets, widgets, progress, previews, outputs and errors. */
import { Handle, NodeResizeControl, Position, ResizeControlVariant, type NodeProps } from "@xyflow/react";
import { memo, useState } from "react";
import { updateNode } from "../graph/edit";
import { nodeTitle, VIRTUAL_TYPES, widgetSlots } from "../graph/spec";
import { convertInputToWidget, isConverted } from "../graph/widgets";
import { findNode, TITLE_HEIGHT, type UiNode } from "../graph/workflow";
import { commit, doc } from "../state/document";
import { runtime } from "../state/runtime";
import { useStore } from "../state/store";
import { toggleCollapse } from "../state/commands";
import { renameRequest } from "./contextMenus";
import { Media } from "./Media";
import { NodeMenu } from "./NodeMenu";
import { typeColor } from "./theme";
import { VirtualBody } from "./VirtualBody";
import { WidgetRow } from "./WidgetRow";

function Title({ id, text, editNow }: { id: number; text: string; editNow: boolean }) {
  const [editing, setEditing] = useState(editNow);
  if (!editing) {
    return (
      <span className="node-title" onDoubleClick={() => setEditing(true)}>
        {text}
      </span>
    );
  }
  const done = (value: string) => {
    setEditing(false);
    if (value.trim() && value !== text) commit(updateNode(doc.get(), id, (n) => ({ ...n, title: value.trim() })));
  };
  return <input className="nodrag title-edit" autoFocus defaultValue={text} onBlur={(e) => done(e.target.value)} onKeyDown={(e) => e.key === "Enter" && done(e.currentTarget.value)} />;
}

/** A Reroute is only a dot passing its link on, as in ComfyUI. */
function RerouteDot({ node, selected }: { node: UiNode; selected: boolean }) {
  const type = node.inputs[0]?.type === "*" ? node.outputs[0]?.type : node.inputs[0]?.type;
  return (
    <div className={`loom-reroute${selected ? " selected" : ""}`} data-node-type="Reroute" title={type}>
      <Handle type="target" position={Position.Left} id="i0" style={{ background: typeColor(type ?? "*") }} />
      <Handle type="source" position={Position.Right} id="o0" style={{ background: typeColor(type ?? "*") }} />
    </div>
  );
}

function LoomNodeView({ id, selected }: NodeProps) {
  const node = useStore(doc, (wf) => findNode(wf, Number(id)));
  const info = useStore(runtime, (r) => (node ? r.objectInfo[node.type] : undefined));
  const state = useStore(runtime, (r) => r.nodes[id]);
  const [renaming, setRenaming] = useState(0);
  const asked = useStore(renameRequest, (r) => (r.id === Number(id) ? r.count : 0));
  if (!node) return null;
  if (node.type === "Reroute") return <RerouteDot node={node} selected={!!selected} />;
  const title = node.title || nodeTitle(info, node.type);
  const collapsed = !!node.flags.collapsed;
  const slots = info ? widgetSlots(info, node).filter((s) => !isConverted(node, s.def.name)) : [];
  const classes = ["loom-node", selected && "selected", state?.running && "running", (state?.error || state?.inputErrors) && "error", node.mode === 2 && "muted", node.mode === 4 && "bypassed", collapsed && "collapsed", !info && !VIRTUAL_TYPES.has(node.type) && "unknown"];
  const progress = state?.progress;
  const shown = new Set(slots.map((s) => s.def.name));
  const socketErrors = Object.entries(state?.inputErrors ?? {}).filter(([name]) => !shown.has(name));
  return (
    <div className={classes.filter(Boolean).join(" ")} style={{ width: collapsed ? undefined : node.size[0], minHeight: collapsed ? undefined : node.size[1] + TITLE_HEIGHT, background: node.bgcolor }} data-node-type={node.type}>
      {!collapsed && <NodeResizeControl className="width-grip" variant={ResizeControlVariant.Line} position="right" minWidth={180} />}
      <div className="node-header" style={{ background: node.color }}>
        <button type="button" className="icon nodrag" title={collapsed ? "Expand" : "Collapse"} onClick={() => toggleCollapse(new Set([node.id]))}>
          {collapsed ? "▸" : "▾"}
        </button>
        <Title key={`${renaming}-${asked}`} id={node.id} text={title} editNow={renaming + asked > 0} />
        <span className="node-id">#{node.id}</span>
        <NodeMenu node={node} onRename={() => setRenaming(renaming + 1)} />
      </div>
      <div className={collapsed ? "sockets hidden-sockets" : "sockets"}>
        <div className="inputs">
          {node.inputs.map((input, k) => (
            <div className={`socket-row in${state?.inputErrors?.[input.name] ? " has-error" : ""}`} key={`${input.name}-${k}`} title={state?.inputErrors?.[input.name] ?? input.type}>
              <Handle type="target" position={Position.Left} id={`i${k}`} style={{ background: typeColor(input.type) }} />
              <span>{input.label ?? input.name}</span>
              {input.widget && (
                <button type="button" className="icon convert nodrag" title="Convert back to widget" onClick={() => commit(convertInputToWidget(doc.get(), node.id, input.widget!.name))}>
                  ⇄
                </button>
              )}
            </div>
          ))}
        </div>
        <div className="outputs">
          {node.outputs.map((output, k) => (
            <div className="socket-row out" key={`${output.name}-${k}`} title={output.type}>
              <span>{output.label ?? output.name}</span>
              <Handle type="source" position={Position.Right} id={`o${k}`} style={{ background: typeColor(output.type) }} />
            </div>
          ))}
        </div>
      </div>
      {!collapsed && (
        <>
          {slots.length > 0 && (
            <div className="widgets">
              {slots.map((slot) => (
                <WidgetRow key={slot.def.name} node={node} slot={slot} error={state?.inputErrors?.[slot.def.name]} />
              ))}
            </div>
          )}
          {VIRTUAL_TYPES.has(node.type) && <VirtualBody node={node} />}
          {!info && !VIRTUAL_TYPES.has(node.type) && <div className="node-error">Unknown node type “{node.type}”: not installed on this server.</div>}
          {progress && (
            <div className="progress" title={`${progress.value}/${progress.max}`}>
              <div style={{ width: `${(100 * progress.value) / Math.max(progress.max, 1)}%` }} />
            </div>
          )}
          {state?.preview && <img className="node-image preview" src={state.preview} alt="preview" draggable={false} />}
          {!state?.preview && state?.outputs?.map((f) => <Media key={`${f.subfolder}/${f.filename}`} file={f} className="node-image output" />)}
          {socketErrors.length > 0 && <div className="node-error">{socketErrors.map(([name, text]) => `${name}: ${text}`).join("\n")}</div>}
          {state?.error && <div className="node-error">{state.error}</div>}
        </>
      )}
    </div>
  );
}

export const LoomNode = memo(LoomNodeView);
