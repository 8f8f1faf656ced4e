/**
 * `Conv2D`: tfjs-layers' conv2d layer (same config, weights and serialised form, className
 * 'BowcnnConv2D') whose training pass computes only the gradients that are needed.
 *
 * tfjs-layers runs every conv2d through tfjs-core's fused conv op, and with a linear activation (a
 * convolution followed by batch norm) that op stays fused while gradients are recorded. Its gradient
 * is a customGrad that computes dx and dW eagerly, so a first layer also computes the gradient with
 * respect to the images: [128,28,28,16] -> [128,28,28,1] was ~10 ms of an alexnet-small step on wasm,
 * for a tensor nobody reads. In training this layer calls the plain conv2d op (whose gradient is lazy:
 * tfjs only evaluates dx when something upstream needs it), then the bias and the activation; in
 * inference it is tfjs-layers' fused call.
 *
 * With a bias and ReLU (LeNet-5's layers), the training pass adds the bias and applies ReLU in one
 * fused op (`biasRelu`: one pass forward, one backward for both gradients on wasm) where tfjs-core runs
 * Add and Relu forward and ReLU's gradient plus a Sum for the bias's backward: on wasm that was ~5 ms
 * of a 40 ms LeNet-5 step in C1 alone.
 */
import * as tf from '@tensorflow/tfjs';

import { biasRelu } from '../backend/fused-ops.js';

type ConvArgs = Parameters<typeof tf.layers.conv2d>[0];
type TfConv2D = ReturnType<typeof tf.layers.conv2d> & {
  kernel: tf.LayerVariable; bias: tf.LayerVariable | null; strides: number[]; padding: 'valid' | 'same';
  dilationRate: number[]; dataFormat: string; activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string };
};
// tfjs-layers does not export the class itself: take it from an instance
const Base = tf.layers.conv2d({ filters: 1, kernelSize: 1, name: 'bowcnn_conv2d_prototype' }).constructor as unknown as new (args: ConvArgs) => TfConv2D;

export class Conv2D extends Base {
  static className = 'BowcnnConv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor | tf.Tensor[] {
    if (!kwargs?.training || this.dataFormat !== 'channelsLast') return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      let y: tf.Tensor = tf.conv2d(x, this.kernel.read() as tf.Tensor4D, this.strides as [number, number], this.padding, 'NHWC',
        this.dilationRate as [number, number]);
      if (this.bias && this.activation.getClassName() === 'relu') return biasRelu(y, this.bias.read());
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.activation.apply(y);
    });
  }
}
// fromConfig is inherited from tfjs-layers' class (its static side is not in the type taken from an instance)
tf.serialization.registerClass(Conv2D as unknown as Parameters<typeof tf.serialization.registerClass>[0]);

/** tf.layers.conv2d's arguments, this layer. */
export function conv2d(args: ConvArgs): Conv2D {
  return new Conv2D(args);
}
