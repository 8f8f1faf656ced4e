// Vitest global setup: every temporary folder a test makes (mkdtempSync(tmpdir()), the CLI processes it
// starts, the sweep's workers) lands under one folder for the run, removed when the run ends, pass or fail.
// os.tmpdir() reads TMPDIR on each call, and the test processes and their children inherit it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'bowcnn-tests-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
