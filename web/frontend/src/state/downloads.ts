/** Model downloads in progress or finished, keyed "directory/name", fed by POST answers and websocket events. */
import type { DownloadState } from "../api/client";
import { createStore } from "./store";

export const downloads = createStore<Record<string, DownloadState>>({});
/** Bumped to show the missing-models list again (a queue refused while files are missing). */
export const missingModelsAsked = createStore(0);

/** The POST answer can arrive after the websocket already said the download ended: an end state is kept. */
export function recordDownload(state: DownloadState): void {
  const key = `${state.directory}/${state.name}`;
  downloads.set((all) => {
    const known = all[key];
    const stale = known?.id === state.id && known.status !== "downloading" && state.status === "downloading";
    return stale ? all : { ...all, [key]: state };
  });
}
