import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { workflowFromFile } from "./load";
import { readEmbedded } from "./metadata";

const ascii = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  new DataView(out.buffer).setUint32(0, data.length);
  out.set(ascii(type), 4);
  out.set(data, 8);
  return out; // CRC left zero: readers of text chunks do not check it
}

function png(...chunks: Uint8Array[]): Uint8Array {
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks, chunk("IEND", new Uint8Array())];
  return new Uint8Array(Buffer.concat(parts));
}

/** A WebP whose EXIF IFD0 holds ASCII entries the way Loom/ComfyUI write them (0x0110 prompt, 0x010F workflow). */
function webp(entries: [number, string][]): Uint8Array {
  const strings = entries.map(([, s]) => Buffer.from(`${s}\0`, "utf8"));
  const ifdSize = 2 + entries.length * 12 + 4;
  const tiff = Buffer.alloc(8 + ifdSize + strings.reduce((n, s) => n + s.length, 0));
  tiff.write("II", 0, "latin1");
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(entries.length, 8);
  let data = 8 + ifdSize;
  entries.forEach(([tag], k) => {
    const at = 10 + k * 12;
    tiff.writeUInt16LE(tag, at);
    tiff.writeUInt16LE(2, at + 2);
    tiff.writeUInt32LE(strings[k].length, at + 4);
    tiff.writeUInt32LE(data, at + 8);
    strings[k].copy(tiff, data);
    data += strings[k].length;
  });
  const exif = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  const head = Buffer.alloc(8);
  head.write("EXIF", 0, "latin1");
  head.writeUInt32LE(exif.length, 4);
  const body = Buffer.concat([Buffer.from("WEBP", "latin1"), head, exif, Buffer.alloc(exif.length % 2)]);
  const riff = Buffer.alloc(8);
  riff.write("RIFF", 0, "latin1");
  riff.writeUInt32LE(body.length, 4);
  return new Uint8Array(Buffer.concat([riff, body]));
}

const UI = { last_node_id: 1, last_link_id: 0, nodes: [{ id: 1, type: "Thing", pos: [0, 0], size: [200, 80] }], links: [], version: 0.4 };

describe("workflows embedded in images", () => {
  it("reads PNG tEXt, zTXt and iTXt chunks", async () => {
    const file = png(
      chunk("tEXt", ascii('prompt\0{"1":{}}')),
      chunk("zTXt", new Uint8Array([...ascii("workflow\0\0"), ...deflateSync(Buffer.from('{"a":1}'))])),
      chunk("iTXt", new Uint8Array([...ascii("note\0\0\0en\0\0"), ...Buffer.from("héllo", "utf8")])),
    );
    expect(await readEmbedded(file)).toEqual({ prompt: '{"1":{}}', workflow: '{"a":1}', note: "héllo" });
  });

  it("reads WebP EXIF key:json strings", async () => {
    const file = webp([[0x0110, 'prompt:{"1":{}}'], [0x010f, "workflow:{\"b\":2}"]]);
    expect(await readEmbedded(file)).toEqual({ prompt: '{"1":{}}', workflow: '{"b":2}' });
  });

  it("loads the UI workflow from a PNG, preferring it over the prompt", async () => {
    const file = png(chunk("tEXt", ascii(`workflow\0${JSON.stringify(UI)}`)), chunk("tEXt", ascii('prompt\0{"9":{"class_type":"X","inputs":{}}}')));
    const wf = await workflowFromFile("out.png", file, {});
    expect(wf.nodes.map((n) => n.type)).toEqual(["Thing"]);
  });

  it("says so when an image carries no workflow", async () => {
    await expect(workflowFromFile("plain.png", png(), {})).rejects.toThrow(/no embedded workflow/);
  });
});
