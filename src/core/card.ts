/**
 * LayerCard: a stage or layer described in CNN terms. A BoW stage and a CNN layer both have one,
 * so the course's stage <-> layer table is read straight off the cards.
 */
export type Origin = 'handcrafted' | 'unsupervised' | 'supervised' | 'none';

export interface LayerCard {
  stage: string; // 'coding', 'C1'
  classic: string; // 'BoW coding on 1024 words'
  cnn: string; // 'conv 1x1 128->1024 + WTA'
  kernel?: [number, number];
  stride?: number;
  dilation?: number;
  mapsIn: number;
  mapsOut: number;
  params: number;
  origin: Origin;
  receptiveField: number; // input pixels (side of the square window)
  outShape?: number[]; // [H,W,C] after this layer, for one image
  connections?: number; // multiply-adds per image (LeCun's "connections"), when known
  identity?: string; // the identity that makes the classic step this layer (coding: W_k = 2 c_k, ...)
}

/** Receptive field after a layer of kernel k (dilated extent), given the field r and jump j before it. */
export function growField(r: number, j: number, k: number, stride: number, dilation = 1): { r: number; j: number } {
  const ext = (k - 1) * dilation + 1;
  return { r: r + (ext - 1) * j, j: j * stride };
}
