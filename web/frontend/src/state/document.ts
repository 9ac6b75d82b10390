/** The open workflow with undo/redo and persistence across reloads (localStorage). */
import { emptyWorkflow, normalizeWorkflow, type Workflow } from "../graph/workflow";
import { createStore } from "./store";

const STORAGE_KEY = "loom.workflow";
const HISTORY_LIMIT = 100;

/** True when this browser had no saved workflow (a first visit): the canvas then opens the default workflow. */
export const firstVisit = localStorage.getItem(STORAGE_KEY) === null;
export const doc = createStore<Workflow>(restore());
export const selection = createStore<Set<number>>(new Set());
export const edgeSelection = createStore<Set<string>>(new Set());
export const groupSelection = createStore<Set<number>>(new Set());
/** Bumped whenever a whole workflow is loaded, so the canvas can fit it into view. */
export const loads = createStore(0);

let undoStack: Workflow[] = [];
let redoStack: Workflow[] = [];
let gestureStart: Workflow | null = null;

function restore(): Workflow {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved) return normalizeWorkflow(JSON.parse(saved));
  } catch {
    localStorage.removeItem(STORAGE_KEY);
  }
  return emptyWorkflow();
}

function persist(): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(doc.get()));
}

// Every change is kept across reloads; during a drag only the final position is written.
doc.subscribe(() => {
  if (!gestureStart) persist();
});

/** Replace the document as one undoable step. */
export function commit(next: Workflow): void {
  const prev = doc.get();
  if (next === prev) return;
  undoStack = [...undoStack.slice(-HISTORY_LIMIT + 1), gestureStart ?? prev];
  redoStack = [];
  gestureStart = null;
  doc.set(next);
}

/** Start a continuous edit (dragging): the states set until endGesture() form a single undo step. */
export function beginGesture(): void {
  gestureStart ??= doc.get();
}

export function endGesture(): void {
  if (!gestureStart) return;
  const start = gestureStart;
  gestureStart = null;
  persist();
  if (start !== doc.get()) {
    undoStack = [...undoStack.slice(-HISTORY_LIMIT + 1), start];
    redoStack = [];
  }
}

export function undo(): void {
  const prev = undoStack.pop();
  if (!prev) return;
  redoStack.push(doc.get());
  doc.set(prev);
}

export function redo(): void {
  const next = redoStack.pop();
  if (!next) return;
  undoStack.push(doc.get());
  doc.set(next);
}

/** Load a new workflow (file, drop, history); undoable like any other change. */
export function replaceWorkflow(wf: Workflow): void {
  selection.set(new Set());
  edgeSelection.set(new Set());
  groupSelection.set(new Set());
  commit(wf);
  loads.set((n) => n + 1);
}

export function clearWorkflow(): void {
  replaceWorkflow(emptyWorkflow());
}
