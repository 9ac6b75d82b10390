/** Global keyboard shortcuts (listed in HelpPanel), ignored while typing in a field. */
import { useEffect } from "react";
import { copySelected, deleteSelected, groupSelected, paste, selectAll, toggleCollapse, toggleMode } from "../state/commands";
import { redo, selection, undo } from "../state/document";
import { queueWorkflow, saveWorkflow } from "../state/actions";

export type ShortcutHooks = { fit: () => void; open: () => void; help: () => void };

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

export function useShortcuts(hooks: ShortcutHooks): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const ctrl = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (ctrl && key === "enter") {
        (document.activeElement as HTMLElement | null)?.blur(); // commit the field being typed in first
        void queueWorkflow();
      } else if (typing(e.target)) {
        return;
      } else if (ctrl && key === "z") {
        if (e.shiftKey) redo();
        else undo();
      } else if (ctrl && key === "y") redo();
      else if (ctrl && key === "c") copySelected();
      else if (ctrl && key === "v") paste();
      else if (ctrl && key === "a") selectAll();
      else if (ctrl && key === "g") groupSelected();
      else if (ctrl && key === "m") toggleMode(selection.get(), 2);
      else if (ctrl && key === "b") toggleMode(selection.get(), 4);
      else if (ctrl && key === "s") saveWorkflow();
      else if (ctrl && key === "o") hooks.open();
      else if (e.altKey && e.code === "KeyC") toggleCollapse(selection.get());
      else if (key === "delete" || key === "backspace") deleteSelected();
      else if (key === "." && !ctrl) hooks.fit();
      else if (key === "f1" || key === "?") hooks.help();
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [hooks]);
}
