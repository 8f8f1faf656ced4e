/**
 * A training step on the webgpu backend, recorded once and replayed. Recording one step through tfjs costs the
 * host about as much as the GPU's work on a small CNN (tfjs-core's engine and gradient tape, tfjs-webgpu's
 * shader keys, uniforms and bind groups, a bind group per dispatch); a replayed step is the same dispatches,
 * with bind groups made once, encoded into one command buffer: three calls into the GPU a dispatch.
 *
 * How a step is captured. While the step runs through tfjs, the GPU device's calls are observed: buffers taken
 * from tfjs's pool, bind groups, compute passes, dispatches, buffer copies and queue writes. tfjs reuses a
 * pooled buffer as soon as its tensor is freed, so a buffer stands for several values in one step; each take
 * from the pool starts a new value, and the recording speaks of values, not buffers:
 *   - a value made in the step (an activation, a gradient, a uniform block): the replay owns a buffer for it;
 *   - a variable's value before the step (weights, optimizer moments, batch-norm statistics): the replay reads
 *     the variable's buffer;
 *   - a variable's value after the step: the replay writes it into a buffer of its own and copies it onto the
 *     variable's buffer at the end of the step (a variable's buffer is read until the step's last dispatch);
 *   - anything else made before the step (a constant kept by the model): read where it is.
 * Queue writes are uniforms and uploads; the uploads of feeds (passes/feeds.ts: the batch, dropout masks,
 * the optimizer's per-step numbers) get new values at every replayed step; every other write must be the same
 * at every step. Two consecutive steps are recorded and compared (dispatch by dispatch, value by value, write
 * by write); where they differ, or where the step does what a replay cannot repeat (reads the GPU, maps a
 * buffer, a timestamp query), `recordStep` says why and the caller trains through tfjs.
 *
 * The replay keeps the tfjs state exact: the variables hold the new values after each replayed step, and the
 * producers' `afterReplayedStep` hooks advance what they count (the optimizer's iterations).
 */
import * as tf from '@tensorflow/tfjs';
import { beginFeeds, endFeeds, type FeedEntry, type FeedRecording } from '../passes/feeds.js';

// The few WebGPU types used here (the project compiles without the DOM's WebGPU types).
interface GBuffer {
  size: number;
  usage: number;
  destroy(): void;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
interface GEntry {
  binding: number;
  resource: { buffer?: GBuffer; offset?: number; size?: number };
}
interface GPass {
  setPipeline(p: object): void;
  setBindGroup(i: number, g: object, offsets?: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface GEncoder {
  beginComputePass(d?: { timestampWrites?: unknown }): GPass;
  copyBufferToBuffer(src: GBuffer, so: number, dst: GBuffer, dOff: number, size: number): void;
  finish(): object;
}
interface GQueue {
  writeBuffer(b: GBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number): void;
  submit(cbs: object[]): void;
}
interface GDevice {
  queue: GQueue;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): GBuffer;
  createBindGroup(d: { layout: object; entries: GEntry[] }): object;
  createCommandEncoder(d?: unknown): GEncoder;
}
interface WebgpuBackend {
  device: GDevice;
  tensorMap: { has(id: object): boolean; get(id: object): { resource: unknown; values: unknown; refCount: number } | undefined };
  tensorToBinding(t: { dataId: object }): unknown;
  bufferManager: {
    acquireBuffer(size: number, usage: number, mapped?: boolean, reuse?: boolean): GBuffer;
  };
  commandEncoder: GEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
}

const USAGE = () => (globalThis as unknown as { GPUBufferUsage: Record<string, number> }).GPUBufferUsage;
const MAP_READ = () => (globalThis as unknown as { GPUMapMode: Record<string, number> }).GPUMapMode.READ;

/** One value a buffer holds during the recorded step. */
interface Value {
  buffer: GBuffer;
  /** made before the step (not taken from the pool during it) */
  external: boolean;
  /** the indices of the first and the last command that used it (-1: none yet) */
  firstUse: number;
  lastUse: number;
}
interface Binding {
  binding: number;
  value: Value;
  offset: number;
  size?: number;
}
interface Group {
  layout: object;
  entries: Binding[];
}
type Command =
  | { kind: 'dispatch'; pipeline: object; groups: Group[]; size: [number, number, number] }
  | { kind: 'copy'; src: Value; srcOffset: number; dst: Value; dstOffset: number; size: number };
interface Write {
  value: Value;
  offset: number;
  bytes: Uint8Array;
  feed: FeedEntry | null;
}

/** What one step did on the GPU, in values. */
interface Recording {
  commands: Command[];
  writes: Write[];
  /** why this step cannot be replayed (empty: it can) */
  problems: string[];
  feeds: FeedRecording;
  /** variable name -> its buffer before and after the step */
  before: Map<string, GBuffer>;
  after: Map<string, GBuffer>;
  /** each buffer's value at the step's end */
  final: Map<GBuffer, Value>;
  /** the tensor (data id) each bound buffer belonged to when it was bound */
  owners: Map<GBuffer, object>;
  /** the value of the step's output (the loss) at its end */
  output: Value;
  outputBytes: number;
}

function webgpuBackend(): WebgpuBackend {
  if (tf.getBackend() !== 'webgpu') throw new Error(`a step is replayed on the webgpu backend only (the backend is ${tf.getBackend()})`);
  return tf.backend() as unknown as WebgpuBackend;
}

const bufferOf = (be: WebgpuBackend, t: tf.Tensor): GBuffer | null => {
  const r = be.tensorMap.get(t.dataId)?.resource;
  return r && typeof r === 'object' && 'usage' in r ? (r as GBuffer) : null;
};

/** Submits what tfjs has encoded and not submitted yet, so that it runs before what comes next. */
function flushTfjs(be: WebgpuBackend): void {
  be.endComputePassEncoder();
  if (be.commandEncoder) be.submitQueue();
}

function variableBuffers(be: WebgpuBackend, only?: Set<string>): Map<string, GBuffer> {
  const m = new Map<string, GBuffer>();
  for (const [name, v] of Object.entries(tf.engine().registeredVariables)) {
    if (only && !only.has(name)) continue;
    const b = bufferOf(be, v);
    if (b) m.set(name, b);
  }
  return m;
}

/** Swaps `obj[name]` for `f(original)` until `undo` runs. */
function hook<T extends object, K extends keyof T>(obj: T, name: K, f: (orig: T[K]) => T[K], undo: Array<() => void>): void {
  const own = Object.hasOwn(obj, name);
  const orig = obj[name];
  obj[name] = f(typeof orig === 'function' ? (orig.bind(obj) as T[K]) : orig);
  undo.push(() => {
    if (own) obj[name] = orig;
    else delete obj[name];
  });
}

function bytesOf(data: ArrayBufferView | ArrayBuffer, dataOffset = 0, size?: number): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(dataOffset, size === undefined ? undefined : dataOffset + size));
  const per = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  const count = size ?? data.byteLength / per - dataOffset;
  return new Uint8Array(data.buffer.slice(data.byteOffset + dataOffset * per, data.byteOffset + (dataOffset + count) * per));
}

/** Runs `step` once through tfjs, observing what it does on the GPU. */
function capture(be: WebgpuBackend, step: () => tf.Tensor): { out: tf.Tensor; rec: Recording } {
  const device = be.device;
  const current = new Map<GBuffer, Value>();
  const valueAt = (b: GBuffer): Value => {
    let v = current.get(b);
    if (!v) {
      v = { buffer: b, external: true, firstUse: -1, lastUse: -1 };
      current.set(b, v);
    }
    return v;
  };
  const commands: Command[] = [];
  const writes: Write[] = [];
  const problems = new Set<string>();
  const groups = new WeakMap<object, Group>();
  let uploading: object | null = null;
  let inPool = 0;
  // what tfjs has encoded and not submitted goes first, so that every command of the step is observed
  flushTfjs(be);
  const before = variableBuffers(be);
  const feeds = beginFeeds();
  const undo: Array<() => void> = [];
  const owners = new Map<GBuffer, object>();
  let live = true;
  const use = (v: Value) => {
    if (v.firstUse < 0) v.firstUse = commands.length;
    v.lastUse = commands.length;
  };
  try {
    hook(
      be.bufferManager,
      'acquireBuffer',
      (orig) => (size, usage, mapped, reuse) => {
        if (mapped) problems.add('a buffer mapped at its creation (an upload through a staging buffer)');
        if (usage & USAGE().MAP_READ) problems.add('a read from the GPU');
        inPool++;
        try {
          const b = orig(size, usage, mapped, reuse);
          current.set(b, { buffer: b, external: false, firstUse: -1, lastUse: -1 });
          return b;
        } finally {
          inPool--;
        }
      },
      undo,
    );
    hook(
      device,
      'createBuffer',
      (orig) => (d) => {
        if (!inPool) problems.add("a buffer made outside tfjs's pool");
        return orig(d);
      },
      undo,
    );
    hook(
      be,
      'tensorToBinding',
      (orig) => (t) => {
        const b = orig(t) as { buffer?: GBuffer };
        if (b?.buffer) owners.set(b.buffer, t.dataId);
        return b;
      },
      undo,
    );
    hook(
      be,
      'uploadToGPU',
      (orig) => (dataId) => {
        uploading = dataId;
        try {
          orig(dataId);
        } finally {
          uploading = null;
        }
      },
      undo,
    );
    hook(
      device.queue,
      'writeBuffer',
      (orig) => (b, offset, data, dataOffset, size) => {
        const value = valueAt(b);
        if (value.firstUse >= 0) problems.add('a queue write into a buffer that a dispatch of the step already used');
        writes.push({
          value,
          offset,
          bytes: bytesOf(data, dataOffset, size),
          feed: uploading ? (feeds.feeds.get(uploading) ?? null) : null,
        });
        orig(b, offset, data, dataOffset, size);
      },
      undo,
    );
    hook(
      device,
      'createBindGroup',
      (orig) => (d) => {
        const g = orig(d);
        groups.set(g, {
          layout: d.layout,
          entries: d.entries.flatMap((e) => {
            const r = e.resource;
            if (r?.buffer) return [{ binding: e.binding, value: valueAt(r.buffer), offset: r.offset ?? 0, size: r.size }];
            problems.add('a binding that is not a buffer');
            return [];
          }),
        });
        return g;
      },
      undo,
    );
    hook(
      device,
      'createCommandEncoder',
      (orig) => (d) => {
        const enc = orig(d);
        const copy = enc.copyBufferToBuffer.bind(enc);
        enc.copyBufferToBuffer = (src, so, dst, dOff, size) => {
          if (!live) return copy(src, so, dst, dOff, size);
          const s = valueAt(src),
            t = valueAt(dst);
          use(s);
          use(t);
          commands.push({ kind: 'copy', src: s, srcOffset: so, dst: t, dstOffset: dOff, size });
          copy(src, so, dst, dOff, size);
        };
        for (const name of [
          'clearBuffer',
          'copyBufferToTexture',
          'copyTextureToBuffer',
          'copyTextureToTexture',
          'resolveQuerySet',
          'beginRenderPass',
        ] as const) {
          const e = enc as unknown as Record<string, (...a: unknown[]) => unknown>;
          const f = e[name]?.bind(enc);
          if (f)
            e[name] = (...a: unknown[]) => {
              if (live) problems.add(`a command the replay does not repeat (${name})`);
              return f(...a);
            };
        }
        const begin = enc.beginComputePass.bind(enc);
        enc.beginComputePass = (pd) => {
          if (pd?.timestampWrites) problems.add('a timestamp query');
          const pass = begin(pd);
          let pipeline: object | null = null;
          const bound: Group[] = [];
          const setPipeline = pass.setPipeline.bind(pass);
          pass.setPipeline = (p) => {
            if (live) pipeline = p;
            setPipeline(p);
          };
          const setBindGroup = pass.setBindGroup.bind(pass);
          pass.setBindGroup = (i, g, offsets) => {
            if (!live) return setBindGroup(i, g, offsets);
            if (offsets && (offsets as ArrayLike<number>).length) problems.add('dynamic offsets');
            const rec = groups.get(g);
            if (!rec) problems.add('a bind group made before the step');
            else bound[i] = rec;
            setBindGroup(i, g, offsets);
          };
          const dispatch = pass.dispatchWorkgroups.bind(pass);
          pass.dispatchWorkgroups = (x, y = 1, z = 1) => {
            if (!live) return dispatch(x, y, z);
            if (!pipeline) problems.add('a dispatch without a pipeline');
            for (const g of bound) for (const e of g?.entries ?? []) use(e.value);
            commands.push({ kind: 'dispatch', pipeline: pipeline as object, groups: [...bound], size: [x, y, z] });
            dispatch(x, y, z);
          };
          return pass;
        };
        return enc;
      },
      undo,
    );
    const out = step();
    // the step's commands submitted: tfjs encodes what follows into an encoder of its own (the one observed here
    // stops recording too)
    flushTfjs(be);
    live = false;
    const ob = bufferOf(be, out);
    if (!ob) problems.add("the step's output is not on the GPU");
    const after = variableBuffers(be);
    for (const name of after.keys())
      if (!before.has(name)) problems.add(`variable '${name}' made during the step (record after a first step)`);
    return {
      out,
      rec: {
        commands,
        writes,
        problems: [...problems],
        feeds,
        before,
        after,
        final: new Map(current),
        owners,
        output: ob ? valueAt(ob) : ({ buffer: null, external: true, firstUse: -1, lastUse: -1 } as unknown as Value),
        outputBytes: out.size * 4,
      },
    };
  } finally {
    live = false;
    for (const u of undo.reverse()) u();
    if (feeds) endFeeds();
  }
}

/** A value's part in the step: how the replay finds its buffer. */
type Role =
  | { kind: 'own'; index: number } // made in the step: the replay's buffer `index`
  | { kind: 'old'; variable: string } // a variable's value before the step
  | { kind: 'new'; variable: string; index: number } // a variable's value after the step, made in the replay's buffer `index`
  | { kind: 'kept'; buffer: GBuffer }; // made before the step, not a variable

interface Plan {
  roles: Map<Value, Role>;
  own: Value[];
  /** a text that two steps that replay alike share */
  signature: string;
}

const ids = new WeakMap<object, number>();
let nextId = 0;
const idOf = (o: object) => {
  let i = ids.get(o);
  if (i === undefined) {
    i = nextId++;
    ids.set(o, i);
  }
  return i;
};

function plan(rec: Recording): Plan {
  const oldOf = new Map<GBuffer, string>();
  for (const [name, b] of rec.before) oldOf.set(b, name);
  const roles = new Map<Value, Role>();
  const own: Value[] = [];
  const roleOf = (v: Value): Role => {
    let r = roles.get(v);
    if (r) return r;
    if (v.external) {
      const name = oldOf.get(v.buffer);
      r = name !== undefined ? { kind: 'old', variable: name } : { kind: 'kept', buffer: v.buffer };
    } else {
      own.push(v);
      r = { kind: 'own', index: own.length - 1 };
    }
    roles.set(v, r);
    return r;
  };
  const key = (v: Value): string => {
    const r = roleOf(v);
    return r.kind === 'own' ? `v${r.index}` : r.kind === 'kept' ? `k${idOf(r.buffer)}` : `${r.kind}:${r.variable}`;
  };
  const parts: string[] = [];
  for (const w of rec.writes) {
    const k = key(w.value);
    parts.push(`W ${k}+${w.offset} ${w.bytes.length} ${w.feed ? `feed:${w.feed.name}` : hash(w.bytes)}`);
  }
  for (const c of rec.commands) {
    if (c.kind === 'copy') parts.push(`C ${key(c.src)}+${c.srcOffset} ${key(c.dst)}+${c.dstOffset} ${c.size}`);
    else
      parts.push(
        `D ${idOf(c.pipeline)} ${c.size.join('x')} ${c.groups.map((g) => `[${g.entries.map((e) => `${e.binding}=${key(e.value)}+${e.offset}:${e.size ?? ''}`).join(',')}]`).join(' ')}`,
      );
  }
  // a variable's value after the step: what its buffer last took from the pool (unchanged: still its old value)
  for (const [name, b] of rec.after) {
    const v = rec.final.get(b);
    if (v && !v.external) {
      const { index } = roleOf(v) as { kind: 'own'; index: number }; // made in the step
      parts.push(`N ${name}=v${index}`);
      roles.set(v, { kind: 'new', variable: name, index });
    }
  }
  parts.push(`O ${key(rec.output)}`);
  return { roles, own, signature: parts.join('\n') };
}

function hash(b: Uint8Array): string {
  let h = 2166136261;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619);
  return (h >>> 0).toString(16);
}

/**
 * A recorded training step, replayed: `run(step, { x, y })` repeats it with the batch's values (the feeds that
 * the caller gives) and every other feed's producer, then runs the producers' after-hooks. `read()` gives the
 * output (the loss) of the last replayed step.
 */
export class ReplayedStep {
  readonly dispatches: number;
  readonly feedNames: string[];
  private readonly be: WebgpuBackend;
  /** the GPU memory the replay's own buffers take */
  readonly bytes: number;
  private readonly buffers: GBuffer[] = [];
  /** the buffer of each value made in the step (p.own's order) */
  private readonly slots: GBuffer[] = [];
  private groups: object[][] = [];
  private readonly copies: Array<{ src: GBuffer; dst: () => GBuffer; size: number }> = [];
  private readonly feedWrites: Array<{ feed: FeedEntry; buffer: GBuffer; offset: number; bytes: number }> = [];
  private readonly after: Array<() => void>;
  private readonly output: GBuffer;
  private readonly outputBytes: number;
  private staging: GBuffer | null = null;
  /** the variables the step writes */
  private readonly written = new Set<string>();
  /** the tensors (data ids) made before the step that it reads, not variables, and their buffers */
  private readonly kept = new Map<object, GBuffer>();
  /** the variables the step reads or writes */
  private readonly variables = new Set<string>();
  private bound = new Map<string, GBuffer>();
  private disposed = false;

  constructor(
    be: WebgpuBackend,
    private readonly rec: Recording,
    private readonly p: Plan,
  ) {
    this.be = be;
    for (const r of p.roles.values()) {
      if (r.kind === 'old' || r.kind === 'new') this.variables.add(r.variable);
      if (r.kind === 'kept') {
        const owner = rec.owners.get(r.buffer);
        if (!owner) throw new Error('replay: a buffer the step reads belongs to no tensor');
        this.kept.set(owner, r.buffer);
      }
      if (r.kind === 'new') this.written.add(r.variable);
    }
    this.bound = variableBuffers(be, this.variables);
    // a buffer for each value made in the step; values made and last used by dispatches and copies share buffers
    // where their spans of commands do not meet (a value written by the queue, a variable's new value and the
    // output keep theirs for the whole step)
    const u = USAGE();
    const written = new Set(rec.writes.map((w) => w.value));
    const spans = p.own.map((v, i) => ({ v, i }));
    const shared = spans
      .filter(({ v }) => p.roles.get(v)!.kind === 'own' && !written.has(v) && v !== rec.output && v.firstUse >= 0)
      .sort((a, b) => a.v.firstUse - b.v.firstUse);
    const free = new Map<string, Array<{ buffer: GBuffer; until: number }>>();
    const make = (v: Value): GBuffer => {
      const buffer = be.device.createBuffer({
        size: Math.max(4, v.buffer.size),
        usage: (v.buffer.usage & ~(u.MAP_READ | u.MAP_WRITE)) | u.COPY_DST | u.COPY_SRC,
      });
      this.buffers.push(buffer);
      return buffer;
    };
    for (const { v, i } of shared) {
      const key = `${v.buffer.size}/${v.buffer.usage}`;
      const slots = free.get(key) ?? [];
      free.set(key, slots);
      const slot = slots.find((x) => x.until < v.firstUse);
      if (slot) slot.until = v.lastUse;
      else slots.push({ buffer: make(v), until: v.lastUse });
      this.slots[i] = (slot ?? slots[slots.length - 1]).buffer;
    }
    spans.forEach(({ v, i }) => {
      this.slots[i] ??= make(v);
      const r = p.roles.get(v)!;
      if (r.kind === 'new') this.copies.push({ src: this.slots[i], dst: this.variableBuffer(r.variable), size: v.buffer.size });
    });
    this.bytes = this.buffers.reduce((a, b) => a + b.size, 0);
    for (const w of rec.writes) {
      const b = this.resolve(w.value);
      if (w.feed) this.feedWrites.push({ feed: w.feed, buffer: b, offset: w.offset, bytes: w.bytes.length });
      else be.device.queue.writeBuffer(b, w.offset, w.bytes);
    }
    this.dispatches = rec.commands.filter((c) => c.kind === 'dispatch').length;
    this.feedNames = [...new Set(this.feedWrites.map((f) => f.feed.name))];
    this.after = rec.feeds.after;
    this.output = this.resolve(rec.output);
    this.outputBytes = rec.outputBytes;
    this.bind();
  }

  private variableBuffer(name: string): () => GBuffer {
    return () => {
      const b = this.bound.get(name);
      if (!b) throw new Error(`replay: variable '${name}' is gone`);
      return b;
    };
  }

  private resolve(v: Value): GBuffer {
    const r = this.p.roles.get(v);
    if (!r) throw new Error('replay: a value with no part in the step');
    if (r.kind === 'kept') return r.buffer;
    if (r.kind === 'old') return this.variableBuffer(r.variable)();
    // made in the step (a variable's new value too, until the step's end copies it onto the variable)
    return this.slots[r.index];
  }

  /** (Re)makes the bind groups over the variables' buffers as tfjs holds them now. */
  private bind(): void {
    this.bound = variableBuffers(this.be, this.variables);
    for (const name of this.variables) if (!this.bound.has(name)) throw new Error(`replay: variable '${name}' is no longer on the GPU`);
    this.groups = this.rec.commands.map((c) =>
      c.kind === 'dispatch'
        ? c.groups.map((g) =>
            this.be.device.createBindGroup({
              layout: g.layout,
              entries: g.entries.map((e) => ({
                binding: e.binding,
                resource: { buffer: this.resolve(e.value), offset: e.offset, ...(e.size !== undefined ? { size: e.size } : {}) },
              })),
            }),
          )
        : [],
    );
  }

  /**
   * Whether the step can be replayed now: every variable it uses on the GPU (a variable given new values is not,
   * until a step through tfjs uses it), none it writes sharing its data with another tensor (a replayed step writes
   * in place, where tfjs would give the variable new data), and every other tensor it reads still alive in its buffer.
   */
  ready(): boolean {
    const vars = tf.engine().registeredVariables;
    for (const name of this.variables) if (!vars[name] || !bufferOf(this.be, vars[name])) return false;
    for (const name of this.written) if ((this.be.tensorMap.get(vars[name].dataId)?.refCount ?? 0) > 1) return false;
    for (const [id, b] of this.kept) if (!this.be.tensorMap.has(id) || this.be.tensorMap.get(id)?.resource !== b) return false;
    return true;
  }

  /** Whether tfjs still holds every variable in the buffer the bind groups use. */
  private stillBound(): boolean {
    const vars = tf.engine().registeredVariables;
    for (const [name, b] of this.bound) {
      const v = vars[name];
      if (!v || bufferOf(this.be, v) !== b) return false;
    }
    return true;
  }

  /** One training step: the feeds written (`given` for those without a producer), the dispatches, the variables updated. */
  run(step: number, given: Record<string, Float32Array | Int32Array> = {}): void {
    if (this.disposed) throw new Error('replay: disposed');
    if (!this.stillBound()) this.bind();
    const be = this.be;
    const queue = be.device.queue;
    for (const f of this.feedWrites) {
      const data = given[f.feed.name] ?? f.feed.producer?.(step);
      if (!data) throw new Error(`replay: feed '${f.feed.name}' needs its values`);
      if (data.byteLength !== f.bytes)
        throw new Error(`replay: feed '${f.feed.name}' has ${data.byteLength} bytes, the recorded step ${f.bytes}`);
      queue.writeBuffer(f.buffer, f.offset, data);
    }
    // what tfjs has encoded and not submitted runs first
    flushTfjs(be);
    const enc = be.device.createCommandEncoder();
    let pass: GPass | null = null;
    let pipeline: object | null = null;
    let last: object[] = [];
    this.rec.commands.forEach((c, i) => {
      if (c.kind === 'copy') {
        pass?.end();
        pass = null;
        pipeline = null;
        last = [];
        enc.copyBufferToBuffer(this.resolve(c.src), c.srcOffset, this.resolve(c.dst), c.dstOffset, c.size);
        return;
      }
      pass ??= enc.beginComputePass();
      if (c.pipeline !== pipeline) {
        pass.setPipeline(c.pipeline);
        pipeline = c.pipeline;
      }
      const gs = this.groups[i];
      for (let g = 0; g < gs.length; g++)
        if (gs[g] !== last[g]) {
          pass.setBindGroup(g, gs[g]);
          last[g] = gs[g];
        }
      pass.dispatchWorkgroups(c.size[0], c.size[1], c.size[2]);
    });
    (pass as GPass | null)?.end();
    for (const c of this.copies) enc.copyBufferToBuffer(c.src, 0, c.dst(), 0, c.size);
    queue.submit([enc.finish()]);
    // a variable read since the last step has its values cached on the host by tfjs: they are stale now
    const vars = tf.engine().registeredVariables;
    for (const name of this.written) {
      const d = be.tensorMap.get(vars[name].dataId);
      if (d) d.values = null;
    }
    for (const f of this.after) f();
  }

  /** The output (the loss) of the last replayed step. */
  async read(): Promise<Float32Array> {
    const u = USAGE();
    this.staging ??= this.be.device.createBuffer({ size: Math.max(4, this.outputBytes), usage: u.MAP_READ | u.COPY_DST });
    const enc = this.be.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.output, 0, this.staging, 0, this.outputBytes);
    this.be.device.queue.submit([enc.finish()]);
    await this.staging.mapAsync(MAP_READ());
    const out = new Float32Array(this.staging.getMappedRange().slice(0, this.outputBytes));
    this.staging.unmap();
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.buffers) b.destroy();
    this.staging?.destroy();
    this.groups = [];
  }
}

export type RecordResult = { replay: ReplayedStep; why?: undefined } | { replay: null; why: string };

/**
 * Records training steps until two consecutive ones agree: `run(step)` runs the step through tfjs (a real
 * training step, the variables hold its results) and returns its output; after the second, `result` holds the
 * replay of the last one, or why there is none.
 */
export class StepRecorder {
  result: RecordResult | null = null;
  private last: Plan | null = null;
  private readonly be = webgpuBackend();

  /** A step that went through tfjs unrecorded: the next recorded step starts a new pair. */
  forget(): void {
    this.last = null;
  }

  run(step: () => tf.Tensor): tf.Tensor {
    const { out, rec } = capture(this.be, step);
    if (this.result) return out;
    if (rec.problems.length) {
      this.result = { replay: null, why: `the step cannot be replayed: ${rec.problems.join('; ')}` };
      return out;
    }
    const p = plan(rec);
    if (this.last) {
      const why = differs(this.last.signature, p.signature);
      this.result = why ? { replay: null, why } : { replay: new ReplayedStep(this.be, rec, p) };
    }
    this.last = p;
    return out;
  }
}

function differs(a: string, b: string): string | null {
  if (a === b) return null;
  const x = a.split('\n'),
    y = b.split('\n');
  let i = x.findIndex((l, k) => l !== y[k]);
  if (i < 0) i = x.length; // x is a prefix of y
  const l = x[i] ?? y[i] ?? '';
  const what = l.startsWith('W')
    ? `a queue write of ${l.split(' ')[2]} bytes whose value changes from step to step and is not a feed (passes/feeds.ts)`
    : l.startsWith('D')
      ? 'a dispatch (another kernel, size or binding)'
      : l.startsWith('C')
        ? 'a buffer copy'
        : 'the variables the step updates';
  return `two consecutive steps differ at event ${i + 1} of ${Math.max(x.length, y.length)}: ${what}`;
}

/** Records `step` (a training step that returns its loss, disposed here) on two consecutive calls: StepRecorder. */
export async function recordStep(step: () => tf.Tensor): Promise<RecordResult> {
  const r = new StepRecorder();
  while (!r.result) r.run(step).dispose();
  return r.result;
}
