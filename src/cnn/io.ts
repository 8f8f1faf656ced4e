/**
 * Saving a tfjs LayersModel to a folder, atomically: model.json + weights.bin + meta.json are written
 * into DIR.tmp-PID and the folder is renamed into place (an older DIR is replaced only then).
 */
import { replaceDirAtomic } from '../util/atomic.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

export async function saveModel(model: tf.LayersModel, dir: string, meta: Record<string, unknown> = {}): Promise<void> {
  await replaceDirAtomic(dir, async (tmp) => {
    await model.save(tf.io.withSaveHandler(async (art) => {
      const weights = new Uint8Array(art.weightData as ArrayBuffer);
      writeFileSync(join(tmp, 'weights.bin'), weights);
      writeFileSync(join(tmp, 'model.json'), JSON.stringify({
        modelTopology: art.modelTopology, format: 'layers-model', generatedBy: 'bowcnn',
        weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }],
      }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify({ version: 1, ...meta }, null, 2));
  });
}

export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const file = join(dir, 'model.json');
  if (!existsSync(file)) throw new Error(`${file}: no model here (expected model.json + weights.bin)`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  const bin = readFileSync(join(dir, 'weights.bin'));
  return tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));
}
