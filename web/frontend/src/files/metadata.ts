/** Reads the workflow text embedded in images: PNG tEXt/iTXt/zTXt (and `comf`) chunks, WebP EXIF "key:json" strings. */

export type Embedded = Record<string, string>;

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8");

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function isPng(b: Uint8Array): boolean {
  return b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
}

function isWebp(b: Uint8Array): boolean {
  return b.length > 12 && latin1.decode(b.subarray(0, 4)) === "RIFF" && latin1.decode(b.subarray(8, 12)) === "WEBP";
}

async function pngText(bytes: Uint8Array): Promise<Embedded> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: Embedded = {};
  let at = 8;
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at);
    const type = latin1.decode(bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    at += 12 + length;
    const nul = data.indexOf(0);
    if (nul < 0) continue;
    const key = latin1.decode(data.subarray(0, nul));
    if (type === "tEXt" || type === "comf") found[key] = latin1.decode(data.subarray(nul + 1));
    else if (type === "zTXt") found[key] = latin1.decode(await inflate(data.subarray(nul + 2)));
    else if (type === "iTXt") {
      const compressed = data[nul + 1] === 1;
      let p = data.indexOf(0, nul + 3); // end of language tag
      p = data.indexOf(0, p + 1); // end of translated keyword
      const text = data.subarray(p + 1);
      found[key] = utf8.decode(compressed ? await inflate(text) : text);
    } else if (type === "IEND") break;
  }
  return found;
}

function webpExif(bytes: Uint8Array): Uint8Array | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 12;
  while (at + 8 <= bytes.length) {
    const fourcc = latin1.decode(bytes.subarray(at, at + 4));
    const size = view.getUint32(at + 4, true);
    if (fourcc === "EXIF") return bytes.subarray(at + 8, at + 8 + size);
    at += 8 + size + (size % 2);
  }
  return null;
}

/** Every ASCII/UNDEFINED string of EXIF IFD0 that reads `key:value`. */
function exifStrings(exif: Uint8Array): Embedded {
  const tiff = latin1.decode(exif.subarray(0, 6)) === "Exif\0\0" ? exif.subarray(6) : exif;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const little = latin1.decode(tiff.subarray(0, 2)) === "II";
  const ifd = view.getUint32(4, little);
  const count = view.getUint16(ifd, little);
  const found: Embedded = {};
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    const type = view.getUint16(entry + 2, little);
    const n = view.getUint32(entry + 4, little);
    if (type !== 2 && type !== 7) continue;
    const start = n <= 4 ? entry + 8 : view.getUint32(entry + 8, little);
    const text = utf8.decode(tiff.subarray(start, start + n)).replace(/\0+$/, "");
    const colon = text.indexOf(":");
    if (colon > 0) found[text.slice(0, colon)] = text.slice(colon + 1);
  }
  return found;
}

/** Text entries embedded in a PNG or WebP file (empty for other files or when none are present). */
export async function readEmbedded(bytes: Uint8Array): Promise<Embedded> {
  if (isPng(bytes)) return pngText(bytes);
  if (isWebp(bytes)) {
    const exif = webpExif(bytes);
    return exif ? exifStrings(exif) : {};
  }
  return {};
}
