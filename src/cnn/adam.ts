/**
 * Adam with one fused kernel per variable where the backend has one ('BowcnnAdam' on wasm: SIMD), and
 * tfjs-core's AdamOptimizer everywhere else. Same class name, state, getWeights/setWeights and
 * arithmetic as tfjs-core's, so checkpoints move between the two.
 *
 * tfjs-core's applyGradients runs 14 ops per variable (Multiply, Add, Square, RealDiv, Sqrt, ...): 140 of
 * a LeNet-5 step's ~270 kernel calls on wasm, each a dispatch through the engine and a pass over memory
 * (~6 ms a step). The fused kernel reads x, g, m, v once and writes x', m', v'; the variables swap to
 * the new blocks (no copy), as tfjs-core's assign does.
 *
 * The bias corrections c1 = 1 - beta1^t and c2 = 1 - beta2^t are computed here from the step count
 * (tfjs-core keeps beta^t in float32 variables, which it would have to read back from the device); the
 * variables are still updated, so a switch to tfjs-core's path mid-run continues from the same state.
 */
import * as tf from '@tensorflow/tfjs';

import { hasNativeKernel } from '../backend/kernel-util.js';
import { afterReplayedStep, feed } from '../passes/feeds.js';

type Moment = { originalName: string; variable: tf.Variable };
type AdamState = {
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Moment[];
  accumulatedSecondMoment: Moment[];
};

type Gradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

export class Adam extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon: number | null = null) {
    super(learningRate, beta1, beta2, epsilon ?? undefined);
  }

  override applyGradients(variableGradients: Gradients): void {
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const vars = tf.engine().registeredVariables;
    if (names.length === 0 || !names.every((n) => vars[n] && hasNativeKernel('BowcnnAdam', vars[n]))) {
      super.applyGradients(variableGradients);
      return;
    }
    const s = this as unknown as AdamState;
    const t = this.iterations + 1;
    // [lr, c1, c2] of the coming step: attributes of the kernel, and on the GPU a tensor (a feed: a replayed step
    // gets its own), not uniforms
    const numbers = (): [number, number, number] => {
      const k = this.iterations + 1;
      return [this.learningRate, 1 - s.beta1 ** k, 1 - s.beta2 ** k];
    };
    const hyper = () => Float32Array.from(numbers());
    const [lr, c1, c2] = numbers();
    const onGpu = tf.getBackend() === 'webgpu';
    const attrs = { lr, beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon, c1, c2 };
    tf.tidy(() => {
      const h = onGpu ? feed('adam', tf.tensor1d(hyper()), hyper) : null;
      names.forEach((name, i) => {
        const value = vars[name];
        s.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        s.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const g = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (g == null) return;
        const m = s.accumulatedFirstMoment[i].variable,
          v = s.accumulatedSecondMoment[i].variable;
        const [nx, nm, nv] = tf
          .engine()
          .runKernel('BowcnnAdam', h ? { x: value, g, m, v, hyper: h } : { x: value, g, m, v }, attrs) as tf.Tensor[];
        m.assign(nm);
        v.assign(nv);
        value.assign(nx);
      });
      s.accBeta1.assign(tf.scalar(s.beta1 ** (t + 1)));
      s.accBeta2.assign(tf.scalar(s.beta2 ** (t + 1)));
    });
    this.incrementIterations();
    afterReplayedStep(() => {
      // beta^t as tfjs-core keeps it (read by checkpoints and tfjs-core's Adam), set on the host
      const k = this.iterations + 1;
      tf.tidy(() => {
        s.accBeta1.assign(tf.scalar(s.beta1 ** (k + 1)));
        s.accBeta2.assign(tf.scalar(s.beta2 ** (k + 1)));
      });
      this.incrementIterations();
    });
  }
}

/** Adam with tf.train.adam's defaults (beta1 0.9, beta2 0.999, the backend's epsilon). */
export function adam(learningRate = 0.001): Adam {
  return new Adam(learningRate);
}
