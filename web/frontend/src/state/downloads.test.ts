import { describe, expect, it } from "vitest";
import type { DownloadState } from "../api/client";
import { downloads, recordDownload } from "./downloads";

const base: DownloadState = { id: "a", name: "m.safetensors", directory: "loras", downloaded: 0, total: null, status: "downloading" };

describe("download states", () => {
  it("keep the end a websocket event reported when the POST answer arrives later", () => {
    recordDownload({ ...base, status: "error", error: "HTTP 404" });
    recordDownload(base);
    expect(downloads.get()["loras/m.safetensors"].status).toBe("error");
  });

  it("a new try of the same file replaces the failed one", () => {
    recordDownload({ ...base, id: "b", downloaded: 10 });
    expect(downloads.get()["loras/m.safetensors"]).toMatchObject({ id: "b", status: "downloading", downloaded: 10 });
  });
});
