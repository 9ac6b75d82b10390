/** Short messages at the bottom of the screen: refused connections, load errors, queue confirmations. */
import { notices } from "../state/runtime";
import { useStore } from "../state/store";

export function Notices() {
  const list = useStore(notices, (n) => n);
  return (
    <div className="notices" role="status">
      {list.map((n) => (
        <div key={n.id} className={`notice ${n.kind}`}>
          {n.text}
        </div>
      ))}
    </div>
  );
}
