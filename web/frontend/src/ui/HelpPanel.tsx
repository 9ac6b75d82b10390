/** Keyboard shortcuts and mouse gestures, listed in a dialog (F1 or ?). */
const SHORTCUTS: [string, string][] = [
  ["Ctrl+Enter", "Queue the workflow"],
  ["Double-click canvas", "Search and add a node"],
  ["Drop a link on empty canvas", "Add a node that takes it, already connected"],
  ["Drag a connected input away", "Detach its link"],
  ["Ctrl+Z / Ctrl+Shift+Z, Ctrl+Y", "Undo / redo"],
  ["Ctrl+C / Ctrl+V", "Copy / paste selected nodes"],
  ["Delete / Backspace", "Delete selected nodes, links and groups"],
  ["Ctrl+A", "Select all nodes"],
  ["Shift+drag", "Box-select"],
  ["Ctrl+click", "Add to the selection"],
  ["Ctrl+G", "Group the selected nodes"],
  ["Ctrl+M", "Mute / unmute selected nodes"],
  ["Ctrl+B", "Bypass / un-bypass selected nodes"],
  ["Alt+C", "Collapse / expand selected nodes"],
  ["Ctrl+S", "Save the workflow as JSON"],
  ["Ctrl+O", "Open a workflow (JSON, PNG, WebP)"],
  [".", "Fit the whole workflow in view"],
  ["Drag canvas / wheel", "Pan / zoom"],
  ["Double-click a title", "Rename a node or group"],
  ["Drop a file", "Load a workflow from JSON or a Loom/ComfyUI image"],
  ["Drop a plain image", "Upload it into a new Load Image node"],
  ["F1 or ?", "This help"],
];

export function HelpPanel({ onClose }: { onClose: () => void }) {
  return (
    <div className="modal-backdrop" onMouseDown={onClose}>
      <div className="modal help" onMouseDown={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        <table>
          <tbody>
            {SHORTCUTS.map(([keys, what]) => (
              <tr key={keys}>
                <td>
                  <kbd>{keys}</kbd>
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
