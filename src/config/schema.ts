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

/** A union option's literal `kind`, if it has one. */
function kindOf(o: AnySchema): unknown {
  const k = o instanceof z.ZodObject ? (o.shape as Record<string, AnySchema>).kind : undefined;
  return k instanceof z.ZodLiteral ? (k.def as unknown as { values: unknown[] }).values[0] : undefined;
}

/**
 * The object schema under a path (through defaults, optionals, arrays), or null. `value` is what was given at the
 * schema's root: a union of objects by `kind` (the recipes) takes the option of the given kind.
 */
function objectAt(schema: AnySchema, path: readonly PropertyKey[], value?: unknown): z.ZodObject | null {
  let s: AnySchema | undefined = schema;
  let v: unknown = value;
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
      // a union (recipes by kind): the option of the given kind, else the first with an object at the rest of the path
      const options = (s.def as unknown as { options: AnySchema[] }).options;
      const given = typeof v === 'object' && v !== null ? (v as { kind?: unknown }).kind : undefined;
      const same = given === undefined ? undefined : options.find((o) => kindOf(o) === given);
      if (same) return objectAt(same, path.slice(i), v);
      for (const o of options) {
        const found = objectAt(o, path.slice(i), v);
        if (found) return found;
      }
      return null;
    }
    if (i === path.length) break;
    const key = path[i];
    v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, AnySchema>)[String(key)];
    else if (s instanceof z.ZodArray) s = s.element as AnySchema;
    else return null;
  }
  return s instanceof z.ZodObject ? s : null;
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : v === undefined ? 'nothing' : JSON.stringify(v));

/** One message per zod issue, each naming the key path. */
export function describeIssues(schema: AnySchema, issues: readonly z.core.$ZodIssue[], value?: unknown): string[] {
  return issues.map((iss) => {
    const path = iss.path.map(String).join('.');
    const at = path ? `'${path}'` : 'the config';
    const input = (iss as { input?: unknown }).input;
    switch (iss.code) {
      case 'unrecognized_keys': {
        const known = Object.keys(objectAt(schema, iss.path, value)?.shape ?? {});
        const at = path ? `${path}.` : '';
        return (
          iss.keys
            // the suggestion is a whole path, as the key was given: 'train.lr' for 'train.lrr'
            .map((k) => `unknown key '${at}${k}'${didYouMean(k, known, at)}; allowed${path ? ` in '${path}'` : ''}: ${listOf(known)}`)
            .join('\n')
        );
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
  const lines = describeIssues(schema, r.error.issues, value).join('\n').split('\n');
  throw new ConfigError(lines.length === 1 ? `${where}: ${lines[0]}` : `${where}:\n${lines.map((l) => `  - ${l}`).join('\n')}`);
}

/** The keys a strict object schema allows (for messages and the docs' tables). */
export function keysOf(schema: AnySchema): string[] {
  return Object.keys(objectAt(schema, [])?.shape ?? {});
}
