/**
 * Dataset types (the data side of the contract). Images are stored once, as bytes, channels-last: `[N,H,W,C]` uint8 in `pixels`.
 * Batches handed to stages and models are float32 in [0,1], `[B,H,W,C]`.
 */
export interface Split {
  readonly pixels: Uint8Array; // [N,H,W,C] row-major, 0..255
  readonly labels: Int32Array; // [N], 0..classes-1
  readonly n: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

export interface Dataset {
  readonly name: string;
  readonly classes: readonly string[];
  readonly train: Split;
  readonly test: Split;
  readonly validation?: Split;
  /** Whether a horizontal flip keeps the label (false for digits). */
  readonly flipSafe: boolean;
  /** Where the files were found. */
  readonly source: string;
  /** sha256 over the image and label bytes of every split and the options that shaped them. */
  readonly fingerprint: string;
}

import { BowcnnError } from './errors.js';

/** A malformed or missing data file: names the file and what is wrong with it. */
export class DataError extends BowcnnError {
  constructor(
    public readonly file: string,
    public readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'DataError';
  }
}

/** A dataset that is not on this machine; the message says how to get it. */
export class DatasetMissingError extends BowcnnError {
  constructor(
    public readonly dataset: string,
    public readonly howTo: string,
  ) {
    super(`dataset '${dataset}' was not found. ${howTo}`);
    this.name = 'DatasetMissingError';
  }
}

export function makeSplit(pixels: Uint8Array, labels: Int32Array, height: number, width: number, channels: number): Split {
  const n = labels.length;
  if (pixels.length !== n * height * width * channels) {
    throw new Error(`split: ${pixels.length} pixel bytes for ${n} images of ${height}x${width}x${channels}`);
  }
  return { pixels, labels, n, height, width, channels };
}
