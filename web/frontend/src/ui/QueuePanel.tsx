/** Queue panel: the running prompt (interrupt) and pending prompts (cancel), refreshed on every status event. */
import { deleteQueued, fetchQueue, interrupt } from "../api/client";
import type { QueueItem } from "../api/types";
import { notify, runtime } from "../state/runtime";
import { useStore } from "../state/store";

async function refresh(): Promise<void> {
  const queue = await fetchQueue();
  runtime.set((r) => ({ ...r, queue }));
}

function Item({ item, running }: { item: QueueItem; running: boolean }) {
  const [number, promptId, prompt] = item;
  const act = async () => {
    try {
      if (running) await interrupt();
      else await deleteQueued([promptId]);
      await refresh();
    } catch (err) {
      notify(String(err), "error");
    }
  };
  return (
    <li className={running ? "queue-item running" : "queue-item"}>
      <span className="queue-number">#{number}</span>
      <span className="queue-info">
        {running ? "running" : "pending"} · {Object.keys(prompt ?? {}).length} nodes
      </span>
      <button type="button" onClick={act} title={running ? "Interrupt the running prompt" : "Remove from the queue"}>
        {running ? "Interrupt" : "Cancel"}
      </button>
    </li>
  );
}

export function QueuePanel() {
  const queue = useStore(runtime, (r) => r.queue);
  const empty = queue.queue_running.length + queue.queue_pending.length === 0;
  return (
    <div className="panel queue-panel">
      {empty && <div className="empty">The queue is empty.</div>}
      <ul>
        {queue.queue_running.map((item) => (
          <Item key={item[1]} item={item} running />
        ))}
        {[...queue.queue_pending]
          .sort((a, b) => a[0] - b[0])
          .map((item) => (
            <Item key={item[1]} item={item} running={false} />
          ))}
      </ul>
    </div>
  );
}
