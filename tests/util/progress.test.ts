// The progress line in a log (not a terminal): one line when the work reaches its total, none repeated by a
// later tick of 0 (a field changed) or by end(); and at most one line per logEveryMs before that.
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/util/progress.js';

function sink(tty: boolean) {
  const lines: string[] = [];
  const write = (s: string) => {
    lines.push(s);
    return true;
  };
  const stream = { isTTY: tty, write } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

describe('Progress in a log', () => {
  it('writes the finished line once, however many ticks of 0 and ends come after it', () => {
    const { stream, lines } = sink(false);
    const bar = new Progress('jobs', 3, { stream, silent: false, logEveryMs: 60_000 });
    bar.tick(1);
    bar.tick(1);
    const before = lines.length;
    expect(before).toBeLessThanOrEqual(1); // at most one line a minute
    bar.tick(1);
    expect(lines.length).toBe(before + 1);
    expect(lines.at(-1)).toMatch(/^jobs \[#+\] 3\/3 /);
    bar.set({ running: '0' }).tick(0);
    bar.tick(0);
    bar.end();
    expect(lines.length).toBe(before + 1);
  });

  it('ends an unfinished bar with its line, and a terminal bar with a newline', () => {
    const log = sink(false);
    const bar = new Progress('imgs', 10, { stream: log.stream, silent: false, logEveryMs: 60_000 });
    bar.tick(4);
    bar.tick(2);
    bar.end();
    expect(log.lines.at(-1)).toMatch(/6\/10/);
    const term = sink(true);
    const t = new Progress('imgs', 2, { stream: term.stream, silent: false });
    t.tick(2);
    t.end();
    expect(term.lines.at(-1)).toMatch(/2\/2 .*\n$/);
  });

  it('draws work that stopped early (a converged solver) full at what was done, with the reason and the planned total', () => {
    for (const tty of [false, true]) {
      const { stream, lines } = sink(tty);
      const bar = new Progress('svm fit', 300, { stream, silent: false, logEveryMs: 60_000, unit: 'pass' });
      bar.tick(12);
      bar.tick(7);
      bar.finishEarly('converged');
      const last = lines.at(-1)!;
      expect(last).toMatch(/svm fit \[#{24}\] 19\/19 /); // a full bar: 24 marks, no dots
      expect(last).toContain('converged (of at most 300)');
      const n = lines.length;
      bar.end(); // closed: nothing more
      expect(lines.length).toBe(n);
    }
    // work that did reach its total ends as end() does, with no reason added
    const { stream, lines } = sink(false);
    const bar = new Progress('jobs', 2, { stream, silent: false, logEveryMs: 60_000 });
    bar.tick(2);
    bar.finishEarly('converged');
    expect(lines.at(-1)).not.toContain('converged');
  });

  it('writes a note on a line of its own, and nothing when the bar is silenced', () => {
    const { stream, lines } = sink(false);
    new Progress('a', 1, { stream, silent: false }).note('fitting k-means');
    expect(lines).toEqual(['fitting k-means\n']);
    const quiet = sink(false);
    new Progress('a', 1, { stream: quiet.stream, silent: true }).note('fitting k-means');
    expect(quiet.lines).toEqual([]);
  });
});
