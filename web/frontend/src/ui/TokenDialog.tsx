/** Asks for the API token when the server answers 401; the answer is kept in localStorage by api/auth. */
import { useEffect, useState } from "react";
import { setTokenAsker } from "../api/auth";

export function TokenDialog() {
  const [resolver, setResolver] = useState<((t: string | null) => void) | null>(null);
  const [value, setValue] = useState("");
  useEffect(() => setTokenAsker(() => new Promise((resolve) => setResolver(() => resolve))), []);
  if (!resolver) return null;
  const finish = (token: string | null) => {
    resolver(token);
    setResolver(null);
  };
  return (
    <div className="modal-backdrop">
      <form
        className="modal token"
        onSubmit={(e) => {
          e.preventDefault();
          finish(value.trim() || null);
        }}
      >
        <h2>This server needs a token</h2>
        <p>Enter the API token the server was started with. It is kept in this browser.</p>
        <input autoFocus type="password" value={value} onChange={(e) => setValue(e.target.value)} placeholder="token" />
        <div className="buttons">
          <button type="button" onClick={() => finish(null)}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Continue
          </button>
        </div>
      </form>
    </div>
  );
}
