/** "Did you mean": the nearest known name to a misspelt one, by edit distance (adjacent swaps count as one). */

/** Damerau-Levenshtein distance (optimal string alignment), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase(),
    t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...new Array(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j++) d[0][j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[s.length][t.length];
}

/** The known name nearest to `given`, if it is near enough to be a slip (at most a third of its letters off). */
export function nearest(given: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const dist = editDistance(given, k);
    if (dist < bestD) {
      best = k;
      bestD = dist;
    }
  }
  const limit = Math.max(1, Math.floor(Math.max(given.length, 3) / 3));
  if (bestD <= limit) return best;
  // a shortening of one name alone ('fashion' for 'fashion-mnist'), at least 3 letters
  const g = given.toLowerCase();
  const starts = g.length >= 3 ? known.filter((k) => k.toLowerCase().startsWith(g)) : [];
  return starts.length === 1 ? starts[0] : null;
}

/** " (did you mean 'x'?)" or "": `prefix` is put before the suggestion, as the given name was written ('train.'). */
export function didYouMean(given: string, known: readonly string[], prefix = ''): string {
  const n = nearest(given, known);
  return n !== null && n !== given ? ` (did you mean '${prefix}${n}'?)` : '';
}

/** 'a', 'b' or 'c' as a list for a message. */
export function listOf(names: readonly (string | number)[]): string {
  return names.map((n) => (typeof n === 'string' ? `'${n}'` : String(n))).join(', ');
}
