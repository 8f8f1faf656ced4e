/**
 * Stage 5: the SVM, which is a fully connected layer: scores = x W + b, `[N,1,1,D]` -> `[N,1,1,classes]`.
 *
 * kind 'linear' (default): one-vs-rest linear SVM, L2-regularised squared hinge (LIBLINEAR's default
 *   loss). For class k with y_ik = +1 if label_i = k else -1:
 *       min_{w_k, b_k}  1/2 ||w_k||^2 + C sum_i max(0, 1 - y_ik (w_k . x_i + b_k))^2
 *   Two solvers:
 *   - solver 'dcd' (default): LIBLINEAR's dual coordinate descent for this loss with shrinking (Hsieh et al.
 *     2008, liblinear -s 1 -B 1: the bias is a constant feature 1, regularised like the weights), over sparse
 *     rows, until the projected-gradient spread of each class is at most `eps` (LIBLINEAR's default 0.1) or
 *     `maxIter` passes (learn/svm.ts; natively, one thread per class, where the addon is built).
 *   - solver 'adam': on the tfjs backend, the primal objective divided by C N, Adam on full batches (N <=
 *     batch) or shuffled mini-batches, cosine-decayed learning rate, until the epoch objective changes by
 *     less than `tol`. Measured on bow-sift MNIST features it needs many epochs to match 'dcd'
 *     (10k images: 94.5% after 30 epochs, 96.9% after 200, where dcd converges in seconds).
 * kind 'libsvm': a kernel SVM through libsvm-js (its WebAssembly build of LIBSVM 3.22), kernel 'rbf',
 *   'linear' or 'chi2' (a precomputed chi2 kernel matrix). For small training sets: the kernel matrix is
 *   N x N. Its scores are one-hot votes of the predicted class.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import type { LayerCard } from '../core/card.js';
import { rng, shuffle } from '../core/random.js';
import { ClassifierSchema } from '../config/stages.js';
import { csrConcat, csrFromDense, csrTimes, csrToDense, type Csr } from '../core/sparse.js';
import { linearSvm } from '../learn/svm.js';
import { Progress } from '../util/progress.js';
import { check4d, defineStage, StageError, type Maps, type RowClassifier } from './stage.js';

export type { ClassifierConfig } from '../config/stages.js';

export interface ClassifierStage extends RowClassifier {
  weights(): { W: tf.Tensor2D; b: tf.Tensor1D } | null;
  lastFit?: { seconds: number; epochs: number; objective: number };
}

/** Collects `[n,1,1,D]` batches into sparse rows. */
async function collect(batches: AsyncIterable<Maps>): Promise<Csr> {
  const parts: Csr[] = [];
  for await (const b of batches) {
    check4d('classifier', b);
    const d = b.shape[1] * b.shape[2] * b.shape[3];
    parts.push(csrFromDense((await b.data()) as Float32Array, b.shape[0], d));
    b.dispose();
  }
  if (!parts.length) return { n: 0, d: 0, indptr: new Int32Array(1), indices: new Int32Array(0), values: new Float32Array(0) };
  return csrConcat(parts);
}

type LibSvm = { train(x: number[][], y: number[]): void; predictOne(x: number[]): number; free(): void };

type SvmClass = {
  new (o: object): LibSvm;
  load(model: string): LibSvm;
  KERNEL_TYPES: Record<string, number>;
  SVM_TYPES: Record<string, number>;
};
let svmClass: Promise<SvmClass> | null = null;
let svmLoaded: SvmClass | null = null;
/** libsvm-js's WebAssembly build (loaded once, on first use). */
const libsvm = () => (svmClass ??= (createRequire(import.meta.url)('libsvm-js') as Promise<SvmClass>).then((c) => (svmLoaded = c)));

export const classifier = defineStage<typeof ClassifierSchema, ClassifierStage>('classifier', ClassifierSchema, (config, name) => {
  let W: tf.Variable<tf.Rank.R2> | null = null;
  let b: tf.Variable<tf.Rank.R1> | null = null;
  let svm: LibSvm | null = null;
  let support: Float32Array[] | null = null; // training rows, for the precomputed chi2 kernel
  let classes = config.classes;
  const chi2Row = (x: Float32Array, rows: Float32Array[]) =>
    rows.map((r) => {
      let s = 0;
      for (let i = 0; i < x.length; i++) {
        const a = x[i] + r[i];
        if (a > 0) s += (2 * x[i] * r[i]) / a;
      }
      return s;
    });
  let Wcpu: Float32Array | null = null; // W and b as arrays, for scoring sparse rows
  let bcpu: Float32Array | null = null;
  let svmModel: string | null = null; // libsvm's own serialisation of the fitted model
  let supportTensor: tf.Tensor2D | null = null; // the chi2 kernel's training rows, as state() gives them
  const stage: Omit<ClassifierStage, 'kind' | 'name' | 'config' | 'clone'> = {
    supervised: true,
    weights: () => (W && b ? { W: W.clone() as tf.Tensor2D, b: b.clone() as tf.Tensor1D } : null),
    async fit(batches: AsyncIterable<Maps>, labels?: Int32Array) {
      if (!labels) throw new StageError(name, 'fit needs labels');
      await stage.fitRows(await collect(batches), labels);
    },
    async fitRows(X: Csr, labels: Int32Array, opts: { progress?: boolean } = {}) {
      const t0 = performance.now();
      const { n, d } = X;
      if (n !== labels.length) throw new StageError(name, `${n} feature rows for ${labels.length} labels`);
      if (n === 0) throw new StageError(name, 'fit needs at least one row');
      let top = 0;
      for (const l of labels) if (l > top) top = l;
      classes = config.classes || top + 1;
      if (config.kind === 'libsvm') {
        const SVM = await libsvm();
        const dense = csrToDense(X);
        const rows: Float32Array[] = [];
        for (let i = 0; i < n; i++) rows.push(dense.subarray(i * d, (i + 1) * d));
        const K =
          config.kernel === 'chi2'
            ? SVM.KERNEL_TYPES.PRECOMPUTED
            : config.kernel === 'linear'
              ? SVM.KERNEL_TYPES.LINEAR
              : SVM.KERNEL_TYPES.RBF;
        svm?.free();
        svm = new SVM({ kernel: K, type: SVM.SVM_TYPES.C_SVC, cost: config.C, gamma: config.gamma || 1 / d, quiet: true });
        const XX = config.kernel === 'chi2' ? rows.map((r) => chi2Row(r, rows)) : rows.map((r) => Array.from(r));
        svm.train(XX, Array.from(labels));
        svmModel = (svm as LibSvm & { serializeModel(): string }).serializeModel();
        support = config.kernel === 'chi2' ? rows : null;
        supportTensor?.dispose();
        supportTensor = null;
        stage.lastFit = { seconds: (performance.now() - t0) / 1000, epochs: 1, objective: NaN };
        return;
      }
      if (W) W.dispose();
      if (b) b.dispose();
      Wcpu = bcpu = null;
      if (config.solver === 'dcd') {
        // passes of at most maxIter (most classes stop far sooner)
        const bar = new Progress(`${name} fit`, config.maxIter, { unit: 'pass', silent: opts.progress === false ? true : undefined });
        let shown = 0;
        const m = await linearSvm(X, labels, classes, {
          C: config.C,
          eps: config.eps,
          maxIter: config.maxIter,
          seed: config.seed,
          onPasses: (p) => {
            bar.tick(p - shown);
            shown = p;
          },
        });
        bar.finishEarly('converged');
        const wt = tf.tensor2d(m.W, [d, classes]),
          bt = tf.tensor1d(m.b);
        W = tf.variable(wt, true) as tf.Variable<tf.Rank.R2>;
        b = tf.variable(bt, true) as tf.Variable<tf.Rank.R1>;
        tf.dispose([wt, bt]);
        Wcpu = m.W;
        bcpu = m.b;
        stage.lastFit = { seconds: (performance.now() - t0) / 1000, epochs: m.passes, objective: NaN };
        return;
      }
      const all = csrToDense(X);
      const w0 = tf.zeros([d, classes]),
        b0 = tf.zeros([classes]);
      W = tf.variable(w0, true) as tf.Variable<tf.Rank.R2>; // a variable shares its initial value's data
      b = tf.variable(b0, true) as tf.Variable<tf.Rank.R1>;
      tf.dispose([w0, b0]);
      const Wv = W,
        bv = b;
      const Y = new Float32Array(n * classes).fill(-1);
      for (let i = 0; i < n; i++) Y[i * classes + labels[i]] = 1;
      const batch = Math.min(config.batch, n);
      const full = batch === n;
      const Xfull = full ? tf.tensor2d(all, [n, d]) : null;
      const Yfull = full ? tf.tensor2d(Y, [n, classes]) : null;
      const opt = tf.train.adam(config.lr);
      const reg = 1 / (2 * config.C * n);
      const rand = rng(config.seed);
      let prev = Infinity,
        objective = Infinity,
        epoch = 0;
      const maxEpochs = full ? config.maxEpochs * 5 : config.maxEpochs;
      for (epoch = 1; epoch <= maxEpochs; epoch++) {
        (opt as unknown as { learningRate: number }).learningRate =
          config.lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * (epoch - 1)) / maxEpochs)));
        const order = full
          ? null
          : shuffle(
              Array.from({ length: n }, (_, i) => i),
              rand,
            );
        let lossSum = 0;
        for (let s = 0; s < n; s += batch) {
          let X: tf.Tensor2D, Yt: tf.Tensor2D;
          if (full) {
            X = Xfull!;
            Yt = Yfull!;
          } else {
            const idx = order!.slice(s, s + batch);
            const xb = new Float32Array(idx.length * d),
              yb = new Float32Array(idx.length * classes);
            idx.forEach((j, i) => {
              xb.set(all.subarray(j * d, (j + 1) * d), i * d);
              yb.set(Y.subarray(j * classes, (j + 1) * classes), i * classes);
            });
            X = tf.tensor2d(xb, [idx.length, d]);
            Yt = tf.tensor2d(yb, [idx.length, classes]);
          }
          const m = X.shape[0];
          const loss = opt.minimize(
            () =>
              tf.tidy(() => {
                const margin = tf.relu(tf.sub(1, tf.mul(Yt, tf.add(tf.matMul(X, Wv), bv))));
                return tf.add(tf.div(tf.sum(tf.square(margin)), m), tf.mul(reg, tf.sum(tf.square(Wv)))) as tf.Scalar;
              }),
            true,
          ) as tf.Scalar;
          lossSum += loss.dataSync()[0] * m;
          loss.dispose();
          if (!full) tf.dispose([X, Yt]);
        }
        objective = lossSum / n;
        if (Number.isFinite(prev) && Math.abs(prev - objective) <= config.tol * Math.max(Math.abs(prev), 1e-12)) break;
        prev = objective;
      }
      opt.dispose();
      tf.dispose([Xfull, Yfull].filter((t): t is tf.Tensor2D => t !== null));
      stage.lastFit = { seconds: (performance.now() - t0) / 1000, epochs: Math.min(epoch, maxEpochs), objective };
    },
    scoreRows(X: Csr): Float32Array {
      if (config.kind === 'libsvm') {
        if (!svm) throw new StageError(name, 'not fitted');
        const dense = csrToDense(X);
        const out = new Float32Array(X.n * classes);
        for (let i = 0; i < X.n; i++) {
          const row = dense.subarray(i * X.d, (i + 1) * X.d);
          out[i * classes + svm.predictOne(support ? chi2Row(row, support) : Array.from(row))] = 1;
        }
        return out;
      }
      if (!W || !b) throw new StageError(name, 'not fitted');
      if (X.d !== W.shape[0]) throw new StageError(name, `rows of ${X.d} features, the classifier takes ${W.shape[0]}`);
      Wcpu ??= W.dataSync() as Float32Array;
      bcpu ??= b.dataSync() as Float32Array;
      return csrTimes(X, Wcpu, bcpu, classes);
    },
    apply(x: Maps): Maps {
      check4d(name, x);
      const n = x.shape[0],
        d = x.shape[1] * x.shape[2] * x.shape[3];
      if (config.kind === 'libsvm') {
        if (!svm) throw new StageError(name, 'not fitted');
        const v = x.dataSync() as Float32Array;
        const out = new Float32Array(n * classes);
        for (let i = 0; i < n; i++) {
          const row = v.subarray(i * d, (i + 1) * d);
          const p = svm.predictOne(support ? chi2Row(row, support) : Array.from(row));
          out[i * classes + p] = 1;
        }
        return tf.tensor4d(out, [n, 1, 1, classes]);
      }
      if (!W || !b) throw new StageError(name, 'not fitted');
      const Wv = W,
        bv = b;
      return tf.tidy(() => tf.reshape(tf.add(tf.matMul(tf.reshape(x, [n, d]), Wv), bv), [n, 1, 1, classes]) as tf.Tensor4D);
    },
    outShape: () => [1, 1, classes],
    card(s): LayerCard {
      const d = s.reduce((a, v) => a * v, 1);
      const k = classes || config.classes || 10;
      return {
        stage: name,
        classic:
          config.kind === 'linear'
            ? `linear SVM, one-vs-rest, squared hinge, C = ${config.C}`
            : `kernel SVM (${config.kernel}), LIBSVM, C = ${config.C}`,
        cnn: config.kind === 'linear' ? `fully connected ${d}->${k}` : `kernel machine ${d}->${k} (not a layer)`,
        mapsIn: d,
        mapsOut: k,
        params: config.kind === 'linear' ? d * k + k : 0,
        origin: 'supervised',
        receptiveField: 0,
        outShape: [1, 1, k],
        connections: d * k + k,
      };
    },
    state: (): Record<string, tf.Tensor> => {
      if (W && b) return { W, b };
      if (support) {
        supportTensor ??= tf.keep(tf.tensor2d(concatRows(support), [support.length, support[0].length]));
        return { support: supportTensor };
      }
      return {};
    },
    extraState: () => (svmModel ? { libsvm: svmModel, classes } : {}),
    // synchronous once libsvm-js is loaded (Pipeline.with copies fitted stages synchronously)
    async restoreExtra(st) {
      if (typeof st.libsvm !== 'string') return;
      const SVM = svmLoaded ?? (await libsvm());
      svm?.free();
      svm = SVM.load(st.libsvm);
      svmModel = st.libsvm;
      classes = Number(st.classes);
    },
    restore(st) {
      if (st.support) {
        const [m, d] = st.support.shape;
        const v = st.support.dataSync() as Float32Array;
        support = Array.from({ length: m }, (_, i) => v.slice(i * d, (i + 1) * d));
      }
      if (!st.W || !st.b) return;
      if (W) W.dispose();
      if (b) b.dispose();
      const w0 = st.W.clone(),
        b0 = st.b.clone();
      W = tf.variable(w0 as tf.Tensor2D, true) as tf.Variable<tf.Rank.R2>;
      b = tf.variable(b0 as tf.Tensor1D, true) as tf.Variable<tf.Rank.R1>;
      tf.dispose([w0, b0]);
      Wcpu = bcpu = null;
      classes = st.b.shape[0];
    },
    // a linear SVM is a fully connected layer on the flattened features
    toLayers() {
      const wb = stage.weights();
      if (!wb)
        throw new StageError(
          name,
          config.kind === 'linear'
            ? 'not fitted: export a fitted pipeline'
            : 'a kernel SVM is not a layer: only a linear classifier exports',
        );
      return [
        { className: 'Flatten', config: { name: `${name}_flatten` } },
        { className: 'Dense', config: { units: wb.b.shape[0], name }, weights: [wb.W, wb.b] },
      ];
    },
    dispose() {
      W?.dispose();
      b?.dispose();
      W = b = null;
      Wcpu = bcpu = null;
      svm?.free();
      svm = null;
      support = null;
      svmModel = null;
      supportTensor?.dispose();
      supportTensor = null;
    },
  };
  return stage;
});

function concatRows(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.length * (rows[0]?.length ?? 0));
  rows.forEach((r, i) => out.set(r, i * r.length));
  return out;
}
