/** A group box drawn behind nodes: a titled, coloured, resizable rectangle; moving it moves the nodes inside. */
import { NodeResizer, type NodeProps } from "@xyflow/react";
import { memo, useState } from "react";
import { commit, doc } from "../state/document";
import { useStore } from "../state/store";

function setGroupTitle(index: number, title: string): void {
  const wf = doc.get();
  commit({ ...wf, groups: wf.groups.map((g, k) => (k === index ? { ...g, title } : g)) });
}

function GroupView({ data, selected }: NodeProps) {
  const index = (data as { index: number }).index;
  const group = useStore(doc, (wf) => wf.groups[index]);
  const [editing, setEditing] = useState(false);
  if (!group) return null;
  const resize = (w: number, h: number, x: number, y: number) => {
    const wf = doc.get();
    const bounding: [number, number, number, number] = [Math.round(x), Math.round(y), Math.round(w), Math.round(h)];
    commit({ ...wf, groups: wf.groups.map((g, k) => (k === index ? { ...g, bounding } : g)) });
  };
  return (
    <div className="loom-group" style={{ borderColor: group.color ?? "#3f789e", background: `${group.color ?? "#3f789e"}33` }}>
      <NodeResizer isVisible={!!selected} minWidth={120} minHeight={60} onResizeEnd={(_, p) => resize(p.width, p.height, p.x, p.y)} />
      {editing ? (
        <input
          className="nodrag title-edit"
          autoFocus
          defaultValue={group.title}
          onBlur={(e) => {
            setEditing(false);
            setGroupTitle(index, e.target.value);
          }}
          onKeyDown={(e) => e.key === "Enter" && e.currentTarget.blur()}
        />
      ) : (
        <div className="group-title" style={{ fontSize: group.font_size ?? 20 }} onDoubleClick={() => setEditing(true)}>
          {group.title}
        </div>
      )}
    </div>
  );
}

export const GroupNode = memo(GroupView);
