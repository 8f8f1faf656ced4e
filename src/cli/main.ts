#!/usr/bin/env node
/** bowcnn <command> [options]. Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted. */
import { UsageError } from './args.js';

const HELP = `bowcnn: Bag-of-visual-Words and CNNs side by side

  bowcnn compare   --dataset D --pipelines a,b,c [--subset N] [--out DIR] [--robustness] [--ablation] [--set stage.param=v]
  bowcnn explain   PIPELINE [--size HxWxC]
  bowcnn train     --model lenet5|alexnet-small|bownet|R.json [--variant modern|classic] --dataset mnist [--subset N] [--epochs E] [--batch B] [--lr LR] [--out DIR]
  bowcnn eval      --model DIR --dataset D [--single-view]
  bowcnn predict   --model DIR IMAGE...
  bowcnn export    --model DIR --out DIR2 [--coding hard|soft] [--beta B]
  bowcnn datasets  [list] | fetch NAME [--dir DIR]
  bowcnn info      [--backend auto|wasm|cpu|webgpu|tensorflow]

Pipelines: recipe names (bow-sift, bow-sift-spm, lenet5, alexnet-small, bownet) or paths to .json/.js/.ts files.
Common options: --backend B (default wasm), --seed S, --data-dir DIR, --json
`;

const COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<void>>> = {
  train: async () => (await import('./train.js')).trainCommand,
  datasets: async () => (await import('./datasets.js')).datasetsCommand,
  info: async () => (await import('./info.js')).infoCommand,
  compare: async () => (await import('./compare.js')).compareCommand,
  explain: async () => (await import('./explain.js')).explainCommand,
  predict: async () => (await import('./models.js')).predictCommand,
  eval: async () => (await import('./models.js')).evalCommand,
  export: async () => (await import('./models.js')).exportCommand,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { process.stdout.write(HELP); return 0; }
  const load = COMMANDS[cmd];
  if (!load) { process.stderr.write(`bowcnn: unknown command '${cmd}'\n\n${HELP}`); return 2; }
  try {
    await (await load())(rest);
    return 0;
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError) { process.stderr.write(`bowcnn ${cmd}: ${err.message}\n`); return 2; }
    const known = ['DataError', 'DatasetMissingError', 'BackendError', 'FetchError', 'PipelineError', 'CacheError'];
    process.stderr.write(`bowcnn ${cmd}: ${err.message}\n`);
    if (!known.includes(err.name) && process.env.BOWCNN_DEBUG) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

process.on('SIGINT', () => {
  // checkpoints, caches and results are written to temp files and renamed: stopping here leaves them whole
  process.stderr.write('\nbowcnn: interrupted; completed epochs and cache entries are kept, a rerun resumes\n');
  process.exit(130);
});

main(process.argv.slice(2)).then(async (code) => {
  process.exitCode = code;
  // drop the GPU reference so that Node can exit (Dawn keeps the event loop alive while a device lives)
  const { releaseWebgpu } = await import('../backend/webgpu.js');
  releaseWebgpu();
}, (e) => { process.stderr.write(`bowcnn: ${(e as Error).message}\n`); process.exitCode = 1; });
