/** Shared command-line helpers: option parsing, JSON output, error reporting. */
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) { super(message); this.name = 'UsageError'; }
}

/** Runs node's parseArgs, turning its errors into UsageError (exit code 2). */
export function parse<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export { parseArgs };

export function num(v: string | undefined, name: string, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  return n;
}

export const common = {
  backend: { type: 'string', default: 'wasm' },
  json: { type: 'boolean', default: false },
  seed: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export function out(json: boolean, value: unknown, human: () => void): void {
  if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else human();
}
