/**
 * Errors a user can act on. Each says what is wrong and where (the file, the recipe, the stage, the key)
 * and carries the exit code the CLI uses for it:
 *
 *   0 ok · 1 a failure (bad data, a missing file, a computation that cannot go on) · 2 usage or bad
 *   configuration · 130 interrupted by SIGINT (Ctrl-C) · 143 stopped by SIGTERM
 */
export class BowcnnError extends Error {
  readonly exitCode: number = 1;
}

/** A command line the CLI cannot run: an unknown option, a missing argument. */
export class UsageError extends BowcnnError {
  override readonly exitCode = 2;
  override name = 'UsageError';
}

/** A recipe, stage config or --set value that does not fit its schema, or stages that do not fit together. */
export class ConfigError extends BowcnnError {
  override readonly exitCode = 2;
  override name = 'ConfigError';
}

/** A model folder that cannot be loaded: missing files, a failed checksum, weights that are not finite. */
export class ModelError extends BowcnnError {
  override name = 'ModelError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** A computation that cannot proceed with the data at hand; the message says what to change. */
export class FitError extends BowcnnError {
  override name = 'FitError';
}

/** Work stopped by a signal; the partial results on disk are whole and a rerun resumes. */
export class Interrupted extends BowcnnError {
  override name = 'Interrupted';
  override readonly exitCode: number;
  /** what was kept, for the line the CLI prints (default: a long run's checkpoints, caches and results) */
  constructor(
    readonly signal: 'SIGINT' | 'SIGTERM',
    readonly kept = 'completed epochs, cache entries and finished results are kept, a rerun resumes',
  ) {
    super(`interrupted by ${signal}`);
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

/** The exit code for an error thrown out of a command. */
export function exitCodeOf(e: unknown): number {
  return e instanceof BowcnnError ? e.exitCode : 1;
}

const ERRNO: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  ENOENT: 'no such file or folder',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
};

/** A system error's code in words ('no space left on device'), else its message. */
export function describeErrno(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (code && ERRNO[code]) ?? (code ? `${code}: ${(e as Error).message}` : String((e as Error)?.message ?? e));
}

/** A file that cannot be read or written: names it and says why in words. */
export class IoError extends BowcnnError {
  override name = 'IoError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
  /** A system error (it has an errno code) as an IoError naming the file; any other error as it is. */
  static wrap(file: string, verb: 'read' | 'write' | 'create', e: unknown): Error {
    const sys = typeof (e as NodeJS.ErrnoException)?.code === 'string' && typeof (e as NodeJS.ErrnoException)?.syscall === 'string';
    return sys ? new IoError(file, `cannot ${verb} (${describeErrno(e)})`) : (e as Error);
  }
}

/** A file name as a person can read it: control characters and bytes that are not UTF-8 escaped. */
export function showPath(p: string | Uint8Array): string {
  const s = typeof p === 'string' ? p : Buffer.from(p).toString('latin1');
  const bad = typeof p !== 'string' && !isUtf8(p);
  const text = bad
    ? Array.from(s, (c) =>
        c.charCodeAt(0) > 0x7e || c.charCodeAt(0) < 0x20 ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c,
      ).join('')
    : typeof p === 'string'
      ? p
      : Buffer.from(p).toString('utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function isUtf8(b: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}
