// Builds bowcnn's optional native kernels (native/bowcnn.cc -> native/build/Release/bowcnn_native.node)
// with node-gyp and the machine's C++ compiler, for this machine's instruction set (-march=native).
// Run by `npm install` / `npm ci` (the package's install script) and by `npm run build:native`.
// Without a compiler or Node's headers it says why and exits 0: the wasm kernels then run instead.
// BOWCNN_NATIVE=0 skips the build; BOWCNN_REQUIRE_NATIVE=1 makes a failed build an error (CI);
// BOWCNN_NATIVE_MARCH=x86-64-v3 builds for another instruction set than this machine's (CI runs the
// kernel tests on an AVX2 build too, so that no test depends on the vector width).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const required = process.env.BOWCNN_REQUIRE_NATIVE === '1';

function giveUp(why) {
  const msg = `bowcnn: native kernels not built (${why}); the wasm kernels run instead`;
  if (required) {
    console.error(msg);
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}

if (process.env.BOWCNN_NATIVE === '0') giveUp('BOWCNN_NATIVE=0');
// node-gyp: npm's own (npm names it to install scripts), else the one beside this npm, else the global npm's
const candidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter(Boolean);
const gyp = candidates.find((p) => existsSync(p));
if (!gyp) giveUp('node-gyp not found');
// Node's headers where this Node is installed (no download: the machines this runs on may have no network)
const prefix = resolve(dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node.h')) ? prefix : '');
const march = process.env.BOWCNN_NATIVE_MARCH || 'native';
if (!/^[\w.-]+$/.test(march)) giveUp(`BOWCNN_NATIVE_MARCH='${march}' is not an -march value`);
const args = [gyp, 'rebuild', '--directory', join(root, 'native'), ...(nodedir ? [`--nodedir=${nodedir}`] : []), '--', `-Dmarch=${march}`];
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  const err = `${r.stdout}\n${r.stderr}`
    .split('\n')
    .filter((l) => /error|ERR!/.test(l))
    .slice(0, 6)
    .join('\n');
  console.error(err);
  giveUp(`node-gyp exited with ${r.status ?? r.signal}`);
}
const built = join(root, 'native', 'build', 'Release', 'bowcnn_native.node');
if (!existsSync(built)) giveUp(`node-gyp succeeded but ${built} is missing`);
console.log(`bowcnn: native kernels built (${built}${march === 'native' ? '' : `, -march=${march}`})`);
