/**
 * IDX files (LeCun's MNIST format, also Fashion-MNIST), raw or gzipped.
 *
 * Layout: magic = 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then the data.
 * Only type 0x08 (unsigned byte) is used by these datasets and accepted here.
 */
import { readFileSync, statSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';
import { describeErrno } from '../core/errors.js';
import { DataError, makeSplit, type Split } from '../core/data.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** The IDX size a header implies (header + data bytes), or a DataError for a header that is not IDX. */
function impliedSize(head: Uint8Array, file: string): number {
  if (head.length < 4) throw new DataError(file, `too short for an IDX header (${head.length} bytes)`);
  if (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08 || head[3] < 1 || head[3] > 4) {
    throw new DataError(
      file,
      `wrong magic number 0x${[...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}: not an IDX file of unsigned bytes (expected 0x00000801 to 0x00000804)`,
    );
  }
  const ndims = head[3];
  if (head.length < 4 + 4 * ndims) throw new DataError(file, `truncated IDX header (${head.length} of ${4 + 4 * ndims} bytes)`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let i = 0; i < ndims; i++) count *= view.getUint32(4 + 4 * i, false);
  return 4 + 4 * ndims + count;
}

/**
 * The file's bytes, gunzipped if it is gzip data, never more than its IDX header implies: a gzip stream is
 * inflated with that bound (a small file that inflates to gigabytes is refused as it passes the bound), and
 * a raw file whose header asks for more bytes than it holds is refused before anything is allocated.
 */
function readMaybeGzip(file: string): Uint8Array {
  let buf: Buffer;
  try {
    const st = statSync(file);
    if (!st.isFile())
      throw new DataError(file, st.isDirectory() ? 'is a folder, not a data file' : 'is not a regular file (a FIFO or a device?)');
    buf = readFileSync(file);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `cannot be read (${describeErrno(e)})`);
  }
  const gzMagic = buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  if (file.endsWith('.gz') && !gzMagic) throw new DataError(file, 'named .gz but is not gzip data (no 1f 8b header)');
  if (!gzMagic) {
    const need = impliedSize(buf.subarray(0, 20), file);
    if (need > buf.length) throw new DataError(file, `truncated: its IDX header implies ${need} bytes, the file has ${buf.length}`);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  let head: Buffer;
  try {
    head = gunzipSync(buf.subarray(0, Math.min(buf.length, 4096)), { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (e) {
    throw new DataError(file, `gzip data is corrupt (${(e as Error).message})`);
  }
  if (head.length < 4 + 4 * (head[3] ?? 1))
    throw new DataError(file, `gzip data is corrupt or truncated (it inflates to ${head.length} bytes, less than an IDX header)`);
  const need = impliedSize(head.subarray(0, 20), file);
  try {
    return new Uint8Array(gunzipSync(buf, { maxOutputLength: need }));
  } catch (e) {
    const msg = (e as Error).message;
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger|maxOutputLength/i.test(msg)) {
      throw new DataError(file, `inflates to more than the ${need} bytes its IDX header implies`);
    }
    throw new DataError(file, `gzip data is corrupt or truncated (${msg})`);
  }
}

/** Parses IDX bytes; `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) throw new DataError(file, `too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(
      file,
      `wrong magic number 0x${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}: not an IDX file (expected 0x000008NN)`,
    );
  }
  if (bytes[2] !== 0x08) throw new DataError(file, `IDX data type 0x${bytes[2].toString(16)} is not unsigned byte (0x08)`);
  const ndims = bytes[3];
  if (ndims < 1 || ndims > 4) throw new DataError(file, `IDX header says ${ndims} dimensions (expected 1 to 4)`);
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) throw new DataError(file, `truncated IDX header (${bytes.length} of ${headerLen} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) throw new DataError(file, `IDX dimension ${i} is 0`);
    dims.push(d);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerLen;
  if (have < count) throw new DataError(file, `truncated: header ${dims.join('x')} needs ${count} data bytes, file has ${have}`);
  if (have > count) throw new DataError(file, `${have - count} bytes of trailing data after ${dims.join('x')} values`);
  return { dims, data: bytes.subarray(headerLen, headerLen + count) };
}

export function readIdx(file: string): IdxArray {
  return parseIdx(readMaybeGzip(file), file);
}

/** Reads an images file `[N,H,W]` and a labels file `[N]` into a Split, checking they agree. */
export function readIdxPair(imagesFile: string, labelsFile: string, classes = 10): Split {
  const im = readIdx(imagesFile);
  const lb = readIdx(labelsFile);
  if (im.dims.length !== 3)
    throw new DataError(imagesFile, `images need 3 dims [N,H,W], header has ${im.dims.length} (${im.dims.join('x')})`);
  if (lb.dims.length !== 1) throw new DataError(labelsFile, `labels need 1 dim [N], header has ${lb.dims.length} (${lb.dims.join('x')})`);
  if (im.dims[0] !== lb.dims[0]) {
    throw new DataError(labelsFile, `${lb.dims[0]} labels for ${im.dims[0]} images in ${imagesFile}`);
  }
  const labels = new Int32Array(lb.dims[0]);
  for (let i = 0; i < labels.length; i++) {
    const v = lb.data[i];
    if (v >= classes) throw new DataError(labelsFile, `label ${v} at index ${i} is not below the class count ${classes}`);
    labels[i] = v;
  }
  return makeSplit(new Uint8Array(im.data), labels, im.dims[1], im.dims[2], 1);
}
