/**
 * The geometric transforms of the robustness sweeps (translation, scale, rotation about the image centre),
 * as tf.image.transform rows: browser-safe, shared by `robustness` and the teaching page's sliders.
 */
import * as tf from '@tensorflow/tfjs';

export type TransformKind = 'translate-x' | 'translate-y' | 'scale' | 'rotate';
export const SWEEPS: Record<TransformKind, number[]> = {
  'translate-x': [-6, -4, -2, 0, 2, 4, 6],
  'translate-y': [-6, -4, -2, 0, 2, 4, 6],
  scale: [0.6, 0.8, 1, 1.2, 1.4],
  rotate: [-60, -40, -20, 0, 20, 40, 60],
};

/**
 * The 8-parameter projective row of tf.image.transform: output (x, y) reads input (a0 x + a1 y + a2,
 * b0 x + b1 y + b2). Translation by (dx, dy) moves content right/down; scale s > 1 enlarges it.
 */
export function transformRow(kind: TransformKind, amount: number, h: number, w: number): number[] {
  const cx = (w - 1) / 2,
    cy = (h - 1) / 2;
  if (kind === 'translate-x') return [1, 0, -amount, 0, 1, 0, 0, 0];
  if (kind === 'translate-y') return [1, 0, 0, 0, 1, -amount, 0, 0];
  if (kind === 'scale') {
    const s = 1 / amount;
    return [s, 0, cx - s * cx, 0, s, cy - s * cy, 0, 0];
  }
  const a = (amount * Math.PI) / 180,
    c = Math.cos(a),
    si = Math.sin(a);
  return [c, -si, cx - c * cx + si * cy, si, c, cy - si * cx - c * cy, 0, 0];
}

export function transformBatch(x: tf.Tensor4D, kind: TransformKind, amount: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = x.shape;
    const row = transformRow(kind, amount, h, w);
    return tf.image.transform(x, tf.tensor2d(new Array(n).fill(row), [n, 8]), 'bilinear', 'constant', 0);
  });
}

/** A pose of the input: translation (px, right / down), scale about the centre, rotation about it (degrees). */
export interface Pose {
  dx: number;
  dy: number;
  scale: number;
  rotate: number;
}

/** The tf.image.transform row of a whole pose: translated, then scaled, then rotated (one resampling). */
export function poseRow(p: Pose, h: number, w: number): number[] {
  const m = (r: number[]) => [
    [r[0], r[1], r[2]],
    [r[3], r[4], r[5]],
    [0, 0, 1],
  ];
  const mul = (a: number[][], b: number[][]) =>
    a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
  // each row maps output pixels to input pixels, so the inverse of (rotate . scale . translate) is their product in this order
  const t = mul(m(transformRow('translate-x', p.dx, h, w)), m(transformRow('translate-y', p.dy, h, w)));
  const a = mul(mul(t, m(transformRow('scale', p.scale, h, w))), m(transformRow('rotate', p.rotate, h, w)));
  return [a[0][0], a[0][1], a[0][2], a[1][0], a[1][1], a[1][2], 0, 0];
}

/** Each of a batch `[N,H,W,C]` moved by the pose of the same index (bilinear, zeros outside). */
export function poseBatch(x: tf.Tensor4D, poses: readonly Pose[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = x.shape;
    if (poses.length !== n) throw new Error(`poseBatch: ${poses.length} poses for ${n} images`);
    return tf.image.transform(
      x,
      tf.tensor2d(
        poses.map((p) => poseRow(p, h, w)),
        [n, 8],
      ),
      'bilinear',
      'constant',
      0,
    );
  });
}
