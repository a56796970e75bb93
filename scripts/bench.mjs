// `npm run bench [-- name ...]`: builds the benchmarks and runs the named ones (default: all).
// Each prints its own figures and ratios against a baseline measured in the same run. They run with
// --expose-gc, so the memory figures are the heap held after a collection.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [names, extra] = [process.argv.slice(2).filter((a) => !a.includes('=')), process.argv.slice(2).filter((a) => a.includes('='))];
execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--tests'], { stdio: 'inherit', cwd: root });
const all = readdirSync(join(root, 'out/bench')).filter((f) => f.endsWith('.js')).map((f) => f.replace(/\.js$/, ''));
const run = names.length ? names : all;
let failed = 0;
for (const name of run) {
  if (!all.includes(name)) {
    console.error(`no benchmark '${name}' (have: ${all.join(', ')})`);
    failed++;
    continue;
  }
  console.log(`\n=== bench/${name}.ts`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'out/bench', `${name}.js`), ...extra], { stdio: 'inherit', cwd: root, env: { ...process.env, LWB_ROOT: process.env.LWB_ROOT ?? root } });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
