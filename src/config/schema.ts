/**
 * Validation through zod: a config is parsed against its schema (strict objects: an unknown key is an
 * error), and every problem becomes one line of a ConfigError that names where (recipe, stage), the
 * key, what was given, what is allowed, and the nearest allowed name when the given one looks like a slip.
 */
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { didYouMean, listOf } from '../core/suggest.js';

export { z };

type AnySchema = z.ZodType;

/** The object schema under a path (through defaults, optionals, arrays), or null. */
function objectAt(schema: AnySchema, path: readonly PropertyKey[]): z.ZodObject | null {
  let s: AnySchema | undefined = schema;
  for (let i = 0; i <= path.length && s; i++) {
    for (;;) {
      const def: { type?: string; innerType?: AnySchema; in?: AnySchema } | undefined = (
        s as { def?: { type?: string; innerType?: AnySchema; in?: AnySchema } }
      ).def;
      if (def && (def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') && def.innerType)
        s = def.innerType;
      else if (def?.type === 'pipe' && def.in) s = def.in;
      else break;
    }
    if (s instanceof z.ZodUnion) {
      // a union (recipes by kind): the first option with an object at the rest of the path
      for (const o of (s.def as unknown as { options: AnySchema[] }).options) {
        const found = objectAt(o, path.slice(i));
        if (found) return found;
      }
      return null;
    }
    if (i === path.length) break;
    const key = path[i];
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, AnySchema>)[String(key)];
    else if (s instanceof z.ZodArray) s = s.element as AnySchema;
    else return null;
  }
  return s instanceof z.ZodObject ? s : null;
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : v === undefined ? 'nothing' : JSON.stringify(v));

/** One message per zod issue, each naming the key path. */
export function describeIssues(schema: AnySchema, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((iss) => {
    const path = iss.path.map(String).join('.');
    const at = path ? `'${path}'` : 'the config';
    const input = (iss as { input?: unknown }).input;
    switch (iss.code) {
      case 'unrecognized_keys': {
        const known = Object.keys(objectAt(schema, iss.path)?.shape ?? {});
        return iss.keys
          .map((k) => `unknown key '${path ? `${path}.` : ''}${k}'${didYouMean(k, known)}; allowed: ${listOf(known)}`)
          .join('\n');
      }
      case 'invalid_value': {
        const allowed = iss.values.map((v) => String(v));
        return `${at}: ${show(input)} is not allowed${typeof input === 'string' ? didYouMean(input, allowed) : ''}; allowed: ${listOf(iss.values as (string | number)[])}`;
      }
      case 'invalid_type':
        return input === undefined
          ? `${at} is required (${iss.expected})`
          : `${at}: expected ${iss.expected === 'int' ? 'a whole number' : iss.expected}, got ${show(input)}`;
      case 'too_small':
        return `${at}: ${show(input)} is too small (at least ${String(iss.minimum)}${iss.inclusive === false ? ', exclusive' : ''})`;
      case 'too_big':
        return `${at}: ${show(input)} is too big (at most ${String(iss.maximum)})`;
      case 'custom':
        return path ? `${at}: ${iss.message}` : iss.message;
      default:
        return `${at}: ${iss.message}${input !== undefined ? ` (got ${show(input)})` : ''}`;
    }
  });
}

/** Parses `value` against `schema`; a failure is a ConfigError prefixed with `where` ("stage 'coding'"). */
export function parseConfig<S extends AnySchema>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value ?? {}, { reportInput: true });
  if (r.success) return r.data;
  const lines = describeIssues(schema, r.error.issues).join('\n').split('\n');
  throw new ConfigError(lines.length === 1 ? `${where}: ${lines[0]}` : `${where}:\n${lines.map((l) => `  - ${l}`).join('\n')}`);
}

/** The keys a strict object schema allows (for messages and the docs' tables). */
export function keysOf(schema: AnySchema): string[] {
  return Object.keys(objectAt(schema, [])?.shape ?? {});
}
