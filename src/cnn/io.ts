/**
 * A CNN saved as a plain tfjs LayersModel: model.json + weights.bin in tfjs's own format (any app with
 * `@tensorflow/tfjs` loads it: `tf.loadLayersModel`, or tf.io.fromMemory over the two files), plus
 * bowcnn's meta.json with the recipe, the data it was trained on and every file's checksum (core/persist).
 * A bownet also needs the few layers of `bowcnn/layers` registered.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../core/errors.js';
import { join } from 'node:path';
import { assertFinite, checkFileName, type ModelMeta, readModelFile, readModelMeta, writeModelDir } from '../core/persist.js';

type Artifacts = { modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer };

async function artifactsOf(model: tf.LayersModel): Promise<Artifacts> {
  let out: Artifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (art) => {
      out = { modelTopology: art.modelTopology as object, weightSpecs: art.weightSpecs ?? [], weightData: art.weightData as ArrayBuffer };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out as unknown as Artifacts;
}

/** A model as tfjs's own two files: model.json (topology + weights manifest) and weights.bin. */
export async function plainFiles(model: tf.LayersModel): Promise<{ 'model.json': string; 'weights.bin': Uint8Array }> {
  const art = await artifactsOf(model);
  const json = JSON.stringify({
    modelTopology: art.modelTopology,
    format: 'layers-model',
    generatedBy: `bowcnn (tfjs ${tf.version.tfjs})`,
    weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }],
  });
  return { 'model.json': json, 'weights.bin': new Uint8Array(art.weightData) };
}

/** model.json + weights.bin + meta.json into dir, atomically; weights that are not finite are refused. */
export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  meta: Omit<ModelMeta, 'format' | 'version' | 'files' | 'kind'> & { kind?: 'cnn' },
): Promise<void> {
  assertFinite(
    await Promise.all(model.weights.map(async (w) => ({ name: w.originalName, data: (await w.read().data()) as Float32Array }))),
    dir,
  );
  await writeModelDir(dir, await plainFiles(model), { ...meta, kind: 'cnn' });
}

/**
 * A saved CNN: model.json's weight files must be plain names inside the folder, each covered by meta.json's
 * checksums; their bytes must be exactly what the weights manifest asks for; the weights must be finite.
 */
export async function loadModel(dir: string, meta: ModelMeta = readModelMeta(dir)): Promise<tf.LayersModel> {
  const mf = join(dir, 'model.json');
  const mj = readModelFile(dir, meta, 'model.json');
  let json: { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(mj.toString('utf8'));
  } catch (e) {
    throw new ModelError(mf, `not valid JSON (${(e as Error).message})`);
  }
  if (!json || typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest))
    throw new ModelError(mf, 'not a tfjs layers model (no modelTopology or weightsManifest)');
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Buffer[] = [];
  for (const group of json.weightsManifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights))
      throw new ModelError(mf, 'a weightsManifest group without paths or weights');
    for (const p of group.paths) {
      checkFileName(p, mf);
      if (meta.files[p] === undefined) throw new ModelError(mf, `its weights file '${p}' is not covered by meta.json's checksums`);
      parts.push(readModelFile(dir, meta, p));
    }
    specs.push(...group.weights);
  }
  const bin = Buffer.concat(parts);
  const need = specs.reduce((a, w) => a + (w.shape ?? []).reduce((x: number, y: number) => x * y, 1) * (w.dtype === 'bool' ? 1 : 4), 0);
  if (bin.byteLength !== need)
    throw new ModelError(
      join(dir, json.weightsManifest[0]?.paths?.[0] ?? 'weights.bin'),
      `${bin.byteLength} bytes for weights that take ${need}: the file was cut short or padded`,
    );
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer,
      }),
    );
  } catch (e) {
    throw new ModelError(mf, `tfjs cannot build the model: ${(e as Error).message}`);
  }
  try {
    assertFinite(
      await Promise.all(model.weights.map(async (w) => ({ name: w.originalName, data: (await w.read().data()) as Float32Array }))),
      join(dir, 'weights.bin'),
    );
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
