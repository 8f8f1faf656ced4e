// Writes the tables that come from declarations in the code, so that they cannot drift from it:
//   README.md and docs/cli.md   the command-line options (src/cli/spec.ts)
//   docs/configuration.md       the BOWCNN_* environment variables (src/core/settings.ts)
// Each table sits between <!-- NAME:start --> and <!-- NAME:end --> markers. `npm run docs` rewrites
// them; `npm test` fails while one is out of date (tests/cli/docs.test.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, optionsMarkdown } from '../src/cli/spec.js';
import { ENV_VARIABLES } from '../src/core/settings.js';
import {
  AlexNetConfigSchema,
  AugmentSchema,
  InputSchema,
  LeNet5ConfigSchema,
  PredictSchema,
  TrainSchema,
  VggConfigSchema,
} from '../src/config/recipes.js';
import type { z } from '../src/config/schema.js';
import * as stages from '../src/config/stages.js';
import { stageKinds } from '../src/pipeline/registry.js';
import { stageSchema } from '../src/stages/stage.js';

export const ROOT = join(import.meta.dirname, '..');

export function envTable(): string {
  return [
    '| variable | values | what it does |',
    '|---|---|---|',
    ...ENV_VARIABLES.map((v) => `| \`${v.name}\` | ${v.values.replace(/\|/g, '\\|')} | ${v.meaning} |`),
  ].join('\n');
}

type Def = {
  type: string;
  innerType?: Zod;
  defaultValue?: unknown;
  in?: Zod;
  entries?: Record<string, string>;
  checks?: { _zod: { def: { check: string; value?: number; inclusive?: boolean; minimum?: number; format?: string } } }[];
  options?: Zod[];
  value?: unknown;
  values?: unknown[];
  element?: Zod;
  items?: Zod[];
};
type Zod = { def: Def; shape?: Record<string, Zod> };

/** What a schema accepts, in words: 'hard, soft, triangle', 'a whole number >= 1', 'a list of ...'. */
function accepts(t: Zod): string {
  const d = t.def;
  if (d.type === 'enum')
    return Object.keys(d.entries ?? {})
      .map((v) => `\`${v}\``)
      .join(', ');
  if (d.type === 'literal') return (d.values ?? [d.value]).map((v) => `\`${JSON.stringify(v)}\``).join(', ');
  if (d.type === 'boolean') return 'true, false';
  if (d.type === 'union') return (d.options ?? []).map(accepts).join(' or ');
  if (d.type === 'array') return `a list (each ${accepts(d.element as Zod)})`;
  if (d.type === 'tuple') return `[${(d.items ?? []).map(accepts).join(', ')}]`;
  if (d.type === 'object') return 'an object';
  if (d.type === 'number') {
    const checks = (d.checks ?? []).map((c) => c._zod.def);
    const whole = checks.some((c) => c.format === 'safeint');
    const bounds = checks
      .filter((c) => c.check === 'greater_than' || c.check === 'less_than')
      .map((c) => `${c.check === 'greater_than' ? '>' : '<'}${c.inclusive ? '=' : ''} ${c.value}`);
    return `${whole ? 'a whole number' : 'a number'}${bounds.length ? ` ${bounds.join(', ')}` : ''}`;
  }
  return d.type;
}

/** A strict object schema as a table: option, default, what it accepts. */
export function schemaTable(schema: unknown): string {
  let s = schema as Zod;
  while (s.def.type === 'pipe' && s.def.in) s = s.def.in;
  const rows = Object.entries(s.shape ?? {}).map(([k, v]) => {
    let t = v;
    let dflt = '';
    while (t.def.innerType) {
      if (t.def.type === 'default') dflt = `\`${JSON.stringify(t.def.defaultValue)}\``;
      t = t.def.innerType;
    }
    return `| \`${k}\` | ${dflt} | ${accepts(t)} |`;
  });
  if (!rows.length) return 'No options.';
  return ['| option | default | accepts |', '|---|---|---|', ...rows].join('\n');
}

/** Every built-in stage kind with its schema, by name: a new kind's table comes with it. */
const stageSchemas = (): [string, z.ZodType][] =>
  [...stageKinds()].sort().flatMap((k) => {
    const s = stageSchema(k);
    return s ? [[k, s] as [string, z.ZodType]] : [];
  });

export function configTables(): string {
  return [
    ...stageSchemas().map(([k, sch]) => `### Stage \`${k}\`\n\n${schemaTable(sch)}`),
    `### Each of a union's \`branches\` (or \`{"recipe": NAME}\`: that bow recipe's stages up to its classifier)\n\n${schemaTable(stages.UnionBranchSchema)}`,
    `### CNN training options (\`train\` in a cnn or bownet recipe; \`--set train.NAME=V\`)\n\n${schemaTable(TrainSchema)}`,
    `### \`train.augment\`\n\n${schemaTable(AugmentSchema)}`,
    `### A CNN's \`predict\` (\`--set predict.shifts=1\`): the test-time views whose logits its scores average\n\n${schemaTable(PredictSchema)}`,
    `### A CNN's \`input\` (\`--set input.size=64\`): the images its model takes; others are framed to it (short side fitted, centred, cropped). Absent: the training images' own size\n\n${schemaTable(InputSchema)}`,
    `### Model \`lenet5\` (\`config\` in its recipe)\n\n${schemaTable(LeNet5ConfigSchema)}`,
    `### Model \`alexnet-small\` (\`config\` in its recipe)\n\n${schemaTable(AlexNetConfigSchema)}`,
    `### Model \`vgg\` (\`config\` in its recipe)\n\n${schemaTable(VggConfigSchema)}`,
  ].join('\n\n');
}

/** The generated blocks of each file, by marker name. */
export const BLOCKS: Record<string, Record<string, () => string>> = {
  'README.md': { cli: () => `${optionsMarkdown('summary')}\n\nExit codes: ${EXIT_CODES}.` },
  'docs/cli.md': { cli: () => optionsMarkdown('full') },
  'docs/configuration.md': { env: envTable, options: configTables },
};

/** The file's text with its blocks regenerated. */
export function regenerate(file: string, text: string): string {
  let out = text;
  for (const [name, make] of Object.entries(BLOCKS[file])) {
    const start = `<!-- ${name}:start -->`,
      end = `<!-- ${name}:end -->`;
    const a = out.indexOf(start),
      b = out.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${file}: no ${start} ... ${end} markers`);
    out = `${out.slice(0, a + start.length)}\n${make()}\n${out.slice(b)}`;
  }
  return out;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  for (const file of Object.keys(BLOCKS)) {
    const path = join(ROOT, file);
    const before = readFileSync(path, 'utf8');
    const after = regenerate(file, before);
    if (after !== before) writeFileSync(path, after);
    console.log(`${file}: ${after === before ? 'up to date' : 'rewritten'}`);
  }
}
