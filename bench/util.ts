import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

/** Median seconds of `reps` runs of f after `warm` warm-up runs. */
export async function timeIt(f: () => unknown | Promise<unknown>, reps = 5, warm = 1): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    await f();
    t.push((performance.now() - s) / 1000);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

/**
 * Peak of process RSS and of tfjs's own byte count while f runs. f receives `sample`, to call at the
 * points of interest (synchronous loops never let a timer fire); a 50 ms timer samples as well.
 */
export async function withPeakMemory<T>(f: (sample: () => void) => Promise<T>): Promise<{ value: T; peakRssMB: number; peakTfMB: number }> {
  let rss = process.memoryUsage.rss(),
    tfb = tf.memory().numBytes;
  let last = performance.now();
  const take = () => {
    rss = Math.max(rss, process.memoryUsage.rss());
    tfb = Math.max(tfb, tf.memory().numBytes);
    last = performance.now();
  };
  // what the timed code calls between steps: at most one reading every 5 ms, so that reading memory is not
  // what a small-batch timing measures
  const sample = () => {
    if (performance.now() - last >= 5) take();
  };
  const timer = setInterval(take, 50);
  try {
    const value = await f(sample);
    take();
    return { value, peakRssMB: rss / 2 ** 20, peakTfMB: tfb / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

export function table(rows: Record<string, unknown>[]): void {
  console.table(rows);
}

/** Runs a command, sampling its resident memory's high-water mark (VmHWM of the process). */
export function runMeasured(cmd: string, args: string[]): Promise<{ code: number; seconds: number; peakMB: number; tail: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let peak = 0;
    const keep = (b: Buffer) => {
      tail = (tail + b.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        /* the process has ended */
      }
    }, 200);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({ code: code ?? 1, seconds: (performance.now() - t0) / 1000, peakMB: peak, tail });
    });
  });
}
