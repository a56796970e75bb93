// Runs unit tests without touching dist/ or out/: bundles the given test files (default: all of
// test/unit) and the CLI into a fresh temporary folder and runs them with Node's test runner.
//   node scripts/unit.mjs                       all unit tests
//   node scripts/unit.mjs test/unit/scan.test.ts [more files]
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const args = process.argv.slice(2);
const files = args.length
  ? args
  : readdirSync(join(root, 'test/unit'), { recursive: true })
      .filter((f) => String(f).endsWith('.test.ts'))
      .map((f) => join('test/unit', String(f)));
const out = mkdtempSync(join(tmpdir(), 'lwb-unit-run-'));
try {
  const common = {
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', absWorkingDir: root,
    external: ['vscode', 'sharp', 'onnxruntime-node'], define: { __LWB_VERSION__: JSON.stringify(pkg.version) },
  };
  await esbuild.build({ ...common, entryPoints: files.map((f) => relative(root, join(root, f))), outdir: join(out, 'test/unit'), outbase: 'test/unit', sourcemap: 'inline' });
  await esbuild.build({ ...common, entryPoints: ['src/cli/lwb.ts'], outfile: join(out, 'cli/lwb.js'), banner: { js: '#!/usr/bin/env node' } });
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', join(out, 'test/unit')], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, LWB_CLI: join(out, 'cli/lwb.js'), LWB_ROOT: root },
  });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
