/** The API token: kept in localStorage, asked for once when the server answers 401. */
const KEY = "loom.token";

let asker: (() => Promise<string | null>) | null = null;
let pending: Promise<string | null> | null = null;

function getToken(): string | null {
  return localStorage.getItem(KEY);
}

/** The UI registers how to ask the user (a dialog); the client calls it on 401. */
export function setTokenAsker(fn: () => Promise<string | null>): void {
  asker = fn;
}

/** Ask for a token, sharing one dialog between concurrent 401s; returns null if the user cancels. */
export async function askToken(): Promise<string | null> {
  if (!asker) return null;
  pending ??= asker().then((token) => {
    pending = null;
    if (token) localStorage.setItem(KEY, token);
    return token;
  });
  return pending;
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Append `token=` to a URL for requests that cannot carry headers (img src, websocket). */
export function withToken(url: string): string {
  const token = getToken();
  if (!token) return url;
  return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}
