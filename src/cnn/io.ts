/**
 * A CNN saved as a plain tfjs LayersModel: model.json + weights.bin in tfjs's own format (any app with
 * `@tensorflow/tfjs` loads it: `tf.loadLayersModel`, or tf.io.fromMemory over the two files), plus
 * bowcnn's meta.json with the recipe, the data it was trained on and every file's checksum (core/persist).
 * A bownet also needs the few layers of `bowcnn/layers` registered.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../core/errors.js';
import { assertFinite, type ModelMeta, readModelFile, readModelMeta, writeModelDir } from '../core/persist.js';

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

/** A saved CNN: checksums checked first, then the weights (which must be finite). */
export async function loadModel(dir: string, meta: ModelMeta = readModelMeta(dir)): Promise<tf.LayersModel> {
  const mj = readModelFile(dir, meta, 'model.json');
  let json: { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(mj.toString('utf8'));
  } catch (e) {
    throw new ModelError(`${dir}/model.json`, `not valid JSON (${(e as Error).message})`);
  }
  const bin = readModelFile(dir, meta, 'weights.bin');
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer,
      }),
    );
  } catch (e) {
    throw new ModelError(`${dir}/model.json`, `tfjs cannot build the model: ${(e as Error).message}`);
  }
  try {
    assertFinite(
      await Promise.all(model.weights.map(async (w) => ({ name: w.originalName, data: (await w.read().data()) as Float32Array }))),
      `${dir}/weights.bin`,
    );
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
