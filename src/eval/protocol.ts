/**
 * The protocol every published figure comes from, for both halves alike:
 *
 *   validation  a stratified, seeded validation split is carved from the training set; each candidate of
 *               the classifier's search space (its recipe's `search`: the SVM's C and coding options, a
 *               CNN's learning rate and epochs) is fitted on the rest and scored on it; the best (the first
 *               of equals, in the declared order) is refitted on the whole training set, and only then is
 *               the test set scored, once. A CNN with early stopping (`train.patience`) takes the epochs of
 *               its best validation accuracy.
 *   fixed       the recipe's own settings, fitted on the whole training set (no search).
 *
 * Nothing here sees a test split: choose() takes the training split only.
 */
import type { Classifier, FitOptions } from '../core/classifier.js';
import type { Split } from '../core/data.js';
import { ConfigError } from '../core/errors.js';
import { argmax } from '../core/scores.js';
import { splitOff } from '../data/split.js';

export const PROTOCOLS = ['validation', 'fixed'] as const;
export type ProtocolKind = (typeof PROTOCOLS)[number];

export interface ProtocolOptions {
  kind: ProtocolKind;
  /** the validation split: a fraction of the training set (< 1) or a count of images */
  validation: number;
}

export const DEFAULT_PROTOCOL: ProtocolOptions = { kind: 'validation', validation: 0.1 };

export interface CandidateRecord {
  /** the searched settings of this candidate (set() paths) */
  settings: Record<string, unknown>;
  validationAccuracy: number;
  fitSeconds: number;
  /** a CNN's validation accuracy after each epoch, against its cumulative training seconds */
  curve?: { epoch: number; seconds: number; accuracy: number }[];
  /** with early stopping: the epochs at its best validation accuracy */
  bestEpochs?: number;
  /**
   * Where this candidate differs from an earlier one only in inference-only settings (a CNN's test-time views):
   * the index of the candidate whose fitted model it scored (its fitSeconds are then 0)
   */
  fitOf?: number;
}

export interface ProtocolRecord {
  kind: ProtocolKind;
  /** images the candidates were fitted on, and the validation images they were scored on */
  fitImages: number;
  validationImages: number;
  /** the seed of the validation split (and of the candidates' fits) */
  seed: number;
  space: Record<string, unknown[]>;
  candidates: CandidateRecord[];
  /** the settings the refit on the whole training set takes (the best candidate's, with early stopping's epochs) */
  chosen: Record<string, unknown>;
  /** the search's wall time (every candidate's fit and validation scoring) */
  seconds: number;
}

/** The validation split's size for a training split of n images: a fraction (< 1) or a count, at least 1. */
export function validationCount(n: number, validation: number): number {
  const k = validation < 1 ? Math.round(validation * n) : Math.round(validation);
  return Math.max(1, Math.min(n - 1, k));
}

/** A stratified, seeded validation split: `fit` for the candidates, `held` to score them. */
export function validationSplit(train: Split, validation: number, seed: number): { fit: Split; held: Split } {
  if (train.n < 2) throw new ConfigError(`the training split has ${train.n} image(s): the validation protocol needs at least 2`);
  const { kept, held } = splitOff(train, validationCount(train.n, validation), seed + 5);
  return { fit: kept, held };
}

/** Every combination of a search space's values, the first key varying slowest (in declared order). */
export function candidates(space: Record<string, unknown[]>): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [k, vs] of Object.entries(space)) out = out.flatMap((o) => vs.map((v) => ({ ...o, [k]: v })));
  return out;
}

/** A classifier's search space without the paths that `sets` fixes (a value given by --set is not searched). */
export function openSpace(c: Classifier, sets: Record<string, unknown> = {}): Record<string, unknown[]> {
  return Object.fromEntries(Object.entries(c.searchSpace()).filter(([k]) => !(k in sets)));
}

/** `c` with every setting of `settings` applied (a new classifier; `c` is unchanged). */
export function withSettings(c: Classifier, settings: Record<string, unknown>): Classifier {
  let out = c;
  for (const [k, v] of Object.entries(settings)) {
    const next = out.set(k, v);
    if (out !== c) out.dispose();
    out = next;
  }
  return out;
}

/** Fraction of a split's images whose argmax score is their label. */
export function splitAccuracy(scores: Float32Array, s: Split): number {
  const k = scores.length / Math.max(1, s.n);
  const pred = argmax(scores, k);
  let ok = 0;
  for (let i = 0; i < s.n; i++) if (pred[i] === s.labels[i]) ok++;
  return ok / Math.max(1, s.n);
}

export interface ChooseOptions extends Omit<FitOptions, 'validation' | 'checkpointDir'> {
  validation: number;
  seed: number;
  /** a folder per candidate's CNN checkpoints: checkpointDir(i) */
  checkpointDir?: (i: number) => string;
  /** the candidates an earlier, interrupted run finished (reused when their settings match) */
  done?: CandidateRecord[];
  /** called after each candidate (to save the search so far) */
  onCandidate?: (c: CandidateRecord, i: number, total: number) => void;
  onStep?: (msg: string) => void;
}

/**
 * The validation protocol's choice for `c` on a training split: every candidate of `space` fitted on the
 * split less a stratified validation part and scored on that part; the record says what was tried and what
 * was chosen. The caller refits `withSettings(c, record.chosen)` on the whole training split.
 */
export async function choose(c: Classifier, train: Split, space: Record<string, unknown[]>, o: ChooseOptions): Promise<ProtocolRecord> {
  const t0 = performance.now();
  const { fit, held } = validationSplit(train, o.validation, o.seed);
  if (Object.keys(space).length === 0 && patienceOf(c) === 0)
    // nothing to choose: no fit is spent on the validation split
    return { kind: 'validation', fitImages: fit.n, validationImages: held.n, seed: o.seed, space, candidates: [], chosen: {}, seconds: 0 };
  const scoringOnly = checkSearch(c, space);
  const list = candidates(space);
  // candidates that differ only in inference-only settings share one fit: the first of them fits, the others
  // score the same fitted model with their settings; it is kept until the last of them is scored
  const trainingKey = (settings: Record<string, unknown>) =>
    JSON.stringify(Object.entries(settings).filter(([k]) => !scoringOnly.includes(k)));
  const keys = list.map(trainingKey);
  const fitted = new Map<string, { model: Classifier; index: number }>();
  const out: CandidateRecord[] = [];
  const { validation: _v, done: _d, onCandidate: _c, onStep: _s, checkpointDir, ...fitOpts } = o;
  const score = async (k: Classifier) => splitAccuracy(await k.scoreSplit(held, { cacheDir: o.cacheDir, progress: o.progress }), held);
  try {
    for (const [i, settings] of list.entries()) {
      const key = JSON.stringify(settings);
      const earlier = o.done?.find((d) => JSON.stringify(d.settings) === key);
      if (earlier) {
        out.push(earlier);
        continue;
      }
      const label = Object.keys(settings).length
        ? Object.entries(settings)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(' ')
        : 'as given';
      const tk = keys[i];
      const first = keys.indexOf(tk);
      let rec: CandidateRecord;
      let shared = fitted.get(tk);
      if (shared) {
        o.onStep?.(
          `${c.name}: candidate ${i + 1}/${list.length} (${label}): candidate ${shared.index + 1}'s fitted model, scored on ${held.n} validation images`,
        );
        const views = withSettings(shared.model, Object.fromEntries(scoringOnly.map((p) => [p, settings[p]])));
        rec = { settings, validationAccuracy: await score(views), fitSeconds: 0, fitOf: shared.index };
      } else {
        o.onStep?.(`${c.name}: candidate ${i + 1}/${list.length} (${label}) on ${fit.n} images, scored on ${held.n} validation images`);
        const k = withSettings(c, settings);
        // the checkpoint folder is the first candidate's with these training settings: any of them resumes it
        shared = { model: k, index: i };
        if (k !== c) fitted.set(tk, shared);
        const rep = await k.fit(fit, { ...fitOpts, validation: held, checkpointDir: checkpointDir?.(first) });
        const acc = await score(k);
        // a sibling whose fit an earlier run finished: that fit, read back whole from its checkpoint
        const readBack = first < i && rep.cached;
        if (readBack) shared.index = first;
        rec = readBack
          ? { settings, validationAccuracy: acc, fitSeconds: 0, fitOf: first }
          : { settings, validationAccuracy: acc, fitSeconds: rep.seconds };
        if (rep.epochs?.length && rep.epochs.some((e) => e.valAccuracy !== null)) {
          let t = 0;
          rec.curve = rep.epochs.map((e) => {
            t += e.seconds;
            return { epoch: e.epoch + 1, seconds: t, accuracy: e.valAccuracy ?? Number.NaN };
          });
          if (patienceOf(k) > 0 && rep.bestEpoch !== undefined && rep.bestEpoch >= 0) {
            rec.bestEpochs = rep.bestEpoch + 1;
            rec.validationAccuracy = rep.epochs[rep.bestEpoch]?.valAccuracy ?? acc;
          }
        }
      }
      out.push(rec);
      o.onCandidate?.(rec, i, list.length);
      // the last candidate with these training settings: its fitted model is done with
      if (keys.lastIndexOf(tk) === i) {
        fitted.get(tk)?.model.dispose();
        fitted.delete(tk);
      }
    }
  } finally {
    for (const f of fitted.values()) f.model.dispose();
  }
  let best = 0;
  for (let i = 1; i < out.length; i++) if (out[i].validationAccuracy > out[best].validationAccuracy) best = i;
  const chosen: Record<string, unknown> = { ...out[best].settings };
  if (out[best].bestEpochs !== undefined) {
    chosen['train.epochs'] = out[best].bestEpochs;
    chosen['train.patience'] = 0;
  }
  return {
    kind: 'validation',
    fitImages: fit.n,
    validationImages: held.n,
    seed: o.seed,
    space,
    candidates: out,
    chosen,
    seconds: (performance.now() - t0) / 1000 + out.filter((r) => o.done?.includes(r)).reduce((a, r) => a + r.fitSeconds, 0),
  };
}

/**
 * The inference-only paths of a search space (a CNN's test-time views, `predict.*`), after checking that they can
 * be chosen: with early stopping a candidate's validation accuracy is its best epoch's, scored as training goes
 * (flips only), not the fitted model's with those views.
 */
export function checkSearch(c: Classifier, space: Record<string, unknown[]>): string[] {
  const scoringOnly = Object.keys(space).filter((k) => c.inferenceOnly?.(k));
  const patience = patienceOf(c) > 0 || (space['train.patience'] ?? []).some((v) => Number(v) > 0);
  if (scoringOnly.length > 0 && patience)
    throw new ConfigError(
      `${c.name}: the search over ${scoringOnly.map((k) => `'${k}'`).join(', ')} scores the fitted model, while early stopping (train.patience) takes each candidate's best epoch: search them without train.patience`,
    );
  return scoringOnly;
}

/** A CNN recipe's early-stopping patience (0 for everything else). */
function patienceOf(c: Classifier): number {
  const t = (c.describe() as { train?: { patience?: number } }).train;
  return typeof t?.patience === 'number' ? t.patience : 0;
}
