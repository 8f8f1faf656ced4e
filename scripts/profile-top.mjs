// Summarises a V8 CPU profile (node --cpu-prof): the functions with the most self time, and for
// `--callers NAME` the call chains that lead to NAME.  Usage: node scripts/profile-top.mjs DIR [N] [--callers NAME]
import { readFileSync, readdirSync } from 'node:fs';
const args = process.argv.slice(2);
const ci = args.indexOf('--callers');
const target = ci >= 0 ? args[ci + 1] : null;
const [dir, n = '25'] = args.filter((_, i) => ci < 0 || (i !== ci && i !== ci + 1));
for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'));
  const byId = new Map(p.nodes.map((x) => [x.id, x])),
    parent = new Map();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const dt = new Map();
  for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const agg = new Map();
  let total = 0;
  for (const x of p.nodes) {
    const ms = (dt.get(x.id) ?? 0) / 1000;
    total += ms;
    if (!ms) continue;
    let key;
    if (target) {
      if (x.callFrame.functionName !== target) continue;
      const chain = [];
      for (let q = parent.get(x.id); q && chain.length < 5; q = parent.get(q)) chain.push(byId.get(q).callFrame.functionName || '(anon)');
      key = chain.join(' < ');
    } else key = `${x.callFrame.functionName || '(anon)'} ${x.callFrame.url.split('/').pop()}:${x.callFrame.lineNumber}`;
    agg.set(key, (agg.get(key) ?? 0) + ms);
  }
  console.log(`${f}: ${total.toFixed(0)} ms sampled${target ? `; callers of ${target}` : ''}`);
  for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${v.toFixed(1).padStart(9)} ms  ${k}`);
}
