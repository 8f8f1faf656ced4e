/** bowcnn experiment NAME | --list: one of the course's experiments, with its report. */
import { UsageError } from '../core/errors.js';
import { EXPERIMENTS, experiment, runExperiment } from '../experiments/registry.js';
import { VERDICT } from '../experiments/report.js';
import { dataDir, output, parseSets, say, startBackend } from './common.js';
import type { Values } from './spec.js';

export async function experimentCommand(v: Values, pos: string[], argv: string[]): Promise<void> {
  if (v.list) {
    output(
      v.json,
      EXPERIMENTS.map((e) => ({ name: e.name, title: e.title, claim: e.claim, defaults: e.defaults })),
      () => {
        const w = Math.max(...EXPERIMENTS.map((e) => e.name.length));
        for (const e of EXPERIMENTS) console.log(`${e.name.padEnd(w)}  ${e.title}`);
      },
    );
    return;
  }
  const [name] = pos;
  if (!name) throw new UsageError('give an experiment name (bowcnn experiment --list shows them)');
  const e = experiment(name);
  const info = await startBackend(v);
  say(v, `experiment ${e.name} on ${info.name}`);
  const { result, files } = await runExperiment(e, {
    dataset: v.dataset as string | undefined,
    subset: v.subset as number | undefined,
    testSubset: v['test-subset'] as number | undefined,
    dataDir: dataDir(v),
    out: v.out as string | undefined,
    seed: v.seed as number,
    protocol: { kind: v.protocol as 'validation' | 'fixed', validation: v.validation as number },
    sets: parseSets(v.set as string[] | undefined),
    progress: !v.json,
    command: ['experiment', ...argv],
    say: (m) => say(v, m),
  });
  output(v.json, result, () => {
    console.log(`\n${result.title}\n`);
    console.log(`the lecture: ${result.claim}`);
    console.log(`measured:    ${result.measured}`);
    console.log(`verdict:     the measurement ${VERDICT[result.verdict]}`);
    console.log(`\nreport: ${files.html}\n        ${files.md}\n        ${files.json}`);
  });
}
