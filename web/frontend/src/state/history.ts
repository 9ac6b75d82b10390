/** What a history entry tells the user about how its run ended: success, error (with why) or interrupted. */
import type { HistoryEntry } from "../api/types";

export type Outcome = { status: string; reason?: string };

/** The run's outcome from its status messages (the server's status_str says "error" for interruptions too). */
export function historyOutcome(entry: HistoryEntry): Outcome {
  const messages = entry.status?.messages ?? [];
  const ending = messages.find(([kind]) => kind === "execution_error" || kind === "execution_interrupted");
  if (!ending) return { status: entry.status?.status_str ?? "done" };
  const [kind, data] = ending;
  const where = data.node_id != null ? `#${String(data.node_id)} ${String(data.node_type ?? "")}`.trim() : "";
  if (kind === "execution_interrupted") return { status: "interrupted", reason: where && `stopped at ${where}` };
  const message = String(data.exception_message ?? "");
  return { status: "error", reason: where ? `${where}: ${message}` : message };
}
