/**
 * A minimal PNG encoder (8-bit grey, grey + alpha, RGB or RGBA, no filtering, zlib from Node), for the report's thumbnails of
 * test images, embedded as data: URIs so the report stays one self-contained file.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** PNG bytes of an `[h,w,c]` uint8 image, c = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). */
export function encodePng(pixels: Uint8Array, h: number, w: number, c: 1 | 2 | 3 | 4): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = [0, 0, 4, 2, 6][c]; // colour type: grey, grey + alpha, RGB, RGBA
  const raw = Buffer.alloc(h * (1 + w * c));
  for (let y = 0; y < h; y++) {
    raw[y * (1 + w * c)] = 0; // filter: none
    raw.set(pixels.subarray(y * w * c, (y + 1) * w * c), y * (1 + w * c) + 1);
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

/** A data: URI of a PNG. */
export function pngDataUri(pixels: Uint8Array, h: number, w: number, c: 1 | 3): string {
  return `data:image/png;base64,${encodePng(pixels, h, w, c).toString('base64')}`;
}
