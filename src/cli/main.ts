#!/usr/bin/env node
/**
 * bowcnn <command> [options]; `bowcnn <command> --help`, `bowcnn --version`.
 *
 * Exit codes, the same in every command: 0 ok, 1 failure, 2 usage or bad configuration, 130 interrupted
 * (SIGINT, Ctrl-C), 143 stopped (SIGTERM). A first signal asks the running work to stop at its next
 * checkpoint (between batches: within a second or two); what was written stays whole (checkpoints, cache
 * entries and results are written atomically) and a rerun resumes. A second signal exits at once. The
 * process always exits once the command is done: no timer, worker or GPU device keeps it alive.
 */
import { readFileSync } from 'node:fs';
import { BowcnnError, exitCodeOf, Interrupted } from '../core/errors.js';
import { requestStop } from '../core/interrupt.js';
import { settings } from '../core/settings.js';
import { didYouMean } from '../core/suggest.js';
import { COMMANDS, commandSpec, helpText, mainHelp, parseCommand, type Values } from './spec.js';

type Run = (values: Values, positionals: string[], argv: string[]) => Promise<void>;

const RUN: Record<string, () => Promise<Run>> = {
  compare: async () => (await import('./compare.js')).compareCommand,
  train: async () => (await import('./train.js')).trainCommand,
  eval: async () => (await import('./models.js')).evalCommand,
  predict: async () => (await import('./models.js')).predictCommand as Run,
  export: async () => (await import('./models.js')).exportCommand,
  explain: async () => (await import('./explain.js')).explainCommand as Run,
  experiment: async () => (await import('./experiment.js')).experimentCommand,
  datasets: async () => (await import('./datasets.js')).datasetsCommand as Run,
  sweep: async () => (await import('./sweep.js')).sweepCommand as Run,
  worker: async () => (await import('./sweep.js')).workerCommand as Run,
  features: async () => (await import('./features.js')).featuresCommand as Run,
  serve: async () => (await import('./serve.js')).serveCommand as Run,
  info: async () => (await import('./info.js')).infoCommand,
  cache: async () => (await import('./cache.js')).cacheCommand as Run,
};

function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

const CODES = { SIGINT: 130, SIGTERM: 143 } as const;
let stopping: 'SIGINT' | 'SIGTERM' | null = null;
let firstAt = 0;
// one Ctrl-C can arrive twice within moments: from the terminal to the process group, and relayed by a wrapper
// (npx, tsx) that forwards its own copy; only a second press, later, means "stop at once"
const SAME_PRESS_MS = 300;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping && performance.now() - firstAt < SAME_PRESS_MS) return;
    if (stopping) {
      process.stderr.write(`\nbowcnn: ${sig} again: stopping now\n`);
      process.exit(CODES[sig]);
    }
    stopping = sig;
    firstAt = performance.now();
    process.stderr.write(`\nbowcnn: ${sig}: stopping at the next safe point (again to stop at once)\n`);
    requestStop(sig);
  });
}

/** The debug setting, or false when the settings themselves are what failed (a bad BOWCNN_* variable). */
function debugOn(): boolean {
  try {
    return settings().debug;
  } catch {
    return false;
  }
}

/** What an interrupted command leaves for a rerun: only what it writes as it goes is kept. */
function keptBy(cmd: string, argv: string[], err: Interrupted): string {
  if (err.kept !== new Interrupted(err.signal).kept) return err.kept; // the command said itself
  if (cmd === 'train')
    return argv.some((a) => a === '--out' || a.startsWith('--out='))
      ? "completed epochs are kept in --out's checkpoint; a rerun with the same options resumes"
      : 'nothing was kept (without --out no checkpoint is written: give --out DIR to keep each epoch, and a rerun resumes)';
  if (cmd === 'eval' || cmd === 'predict' || cmd === 'export' || cmd === 'info' || cmd === 'explain' || cmd === 'datasets')
    return 'nothing was written';
  return err.kept;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const spec = rest[0] ? commandSpec(rest[0]) : undefined;
    process.stdout.write(spec ? helpText(spec) : mainHelp(version()));
    return 0;
  }
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const spec = commandSpec(cmd);
  if (!spec) {
    process.stderr.write(
      `bowcnn: unknown command '${cmd}'${didYouMean(
        cmd,
        COMMANDS.map((c) => c.name),
      )}; bowcnn --help lists them\n`,
    );
    return 2;
  }
  try {
    const { values, positionals } = parseCommand(spec, rest);
    if (values.help) {
      process.stdout.write(helpText(spec));
      return 0;
    }
    await (await RUN[cmd]())(values, positionals, rest);
    return 0;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (err instanceof Interrupted) {
      process.stderr.write(`bowcnn ${cmd}: ${err.message}; ${keptBy(cmd, rest, err)}\n`);
    } else {
      process.stderr.write(`bowcnn ${cmd}: ${err.message}\n`);
      const debug = debugOn();
      if (debug || !(err instanceof BowcnnError)) {
        if (debug) process.stderr.write(`${err.stack}\n`);
        else process.stderr.write('bowcnn: (BOWCNN_DEBUG=1 prints the stack trace)\n');
      }
    }
    return exitCodeOf(err);
  }
}

main(process.argv.slice(2))
  .then(async (code) => {
    // drop the GPU reference (Dawn keeps the event loop alive while a device lives), then exit: nothing left
    // behind (a worker, a timer) may keep a finished or failed command running
    const { releaseWebgpu } = await import('../backend/webgpu.js');
    releaseWebgpu();
    return code;
  })
  .catch((e) => {
    process.stderr.write(`bowcnn: ${(e as Error).message}\n`);
    return 1;
  })
  .then((code) => process.exit(stopping && code === 0 ? CODES[stopping] : code));
