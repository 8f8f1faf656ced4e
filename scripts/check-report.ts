// Opens a report in headless Chromium (Debian's `chromium`, driven by playwright-core: no browser download),
// fails on any console error or resource that does not load, checks what a teacher projects (full class
// names, sample and mistake thumbnails, training curves), and screenshots sections at 1920x1080.
//   npx tsx scripts/check-report.ts runs/mnist/report.html [OUTDIR]
// OUTDIR (default: beside the report) gets report-comparison.png, report-pictures.png, report-samples.png,
// report-training.png, report-robustness.png.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS: [string, string[]][] = [
  ['report-comparison.png', ['comparison', 'timing']],
  ['report-pictures.png', ['pictures']],
  ['report-samples.png', ['samples']],
  ['report-training.png', ['training', 'confusion']],
  ['report-robustness.png', ['robustness']],
];

const [file, outArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: npx tsx scripts/check-report.ts REPORT.html [OUTDIR]');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`check-report: ${CHROMIUM} not found (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  process.exit(2);
}
const html = resolve(file);
const out = resolve(outArg ?? dirname(html));
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const problems: string[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed to load ${r.url()}`));
  await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
  // (the page's own DOM, as a string: this project compiles without the DOM's types)
  const facts = (await page.evaluate(`({
    images: document.querySelectorAll('.thumbs img').length,
    broken: [...document.querySelectorAll('img')].filter((i) => !i.complete || i.naturalWidth === 0).length,
    training: !!document.querySelector('#training svg'),
    smallest: Math.min(...[...document.querySelectorAll('body *')].filter((e) => (e.textContent ?? '').trim() && e.children.length === 0).map((e) => parseFloat(getComputedStyle(e).fontSize))),
  })`)) as { images: number; broken: number; training: boolean; smallest: number };
  if (facts.broken) problems.push(`${facts.broken} images do not decode`);
  if (facts.images < 10) problems.push(`only ${facts.images} thumbnails`);
  if (!facts.training) problems.push('no training curves');
  console.log(
    `check-report: ${facts.images} thumbnails, training curves ${facts.training ? 'present' : 'missing'}, smallest text ${facts.smallest}px`,
  );
  for (const [name, ids] of SHOTS) {
    const boxes = (await Promise.all(ids.map((id) => page.locator(`#${id}`).boundingBox()))).filter((b) => b !== null);
    if (!boxes.length) continue;
    const y = Math.min(...boxes.map((b) => b.y)),
      bottom = Math.max(...boxes.map((b) => b.y + b.height));
    await page.screenshot({ path: join(out, name), fullPage: true, clip: { x: 0, y, width: 1920, height: Math.min(bottom - y, 2400) } });
    console.log(`check-report: ${join(out, name)}`);
  }
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(`check-report: ${html}:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-report: ${html} opened with no console errors`);
