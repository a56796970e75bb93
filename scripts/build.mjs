// Bundles everything with esbuild.
//   node scripts/build.mjs               extension, CLI, workers, webviews → dist/
//   node scripts/build.mjs --production  the same, minified, no source maps (for the VSIX)
//   node scripts/build.mjs --tests       also unit tests, in-host test suite and benches → out/
//   node scripts/build.mjs --watch       rebuild dist/ on change
import * as esbuild from 'esbuild';
import { readFileSync, rmSync, existsSync, readdirSync, mkdirSync, copyFileSync } from 'node:fs';
import { join, dirname, relative, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const withTests = args.has('--tests');
const watch = args.has('--watch');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Native modules are never bundled: they load lazily, in workers, from node_modules. */
const NATIVE = ['sharp', 'onnxruntime-node'];

function walk(dir, pred) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...walk(p, pred));
    else if (pred(p)) out.push(p);
  }
  return out.sort();
}

const common = {
  bundle: true,
  logLevel: 'warning',
  sourcemap: production ? false : 'linked',
  minify: production,
  legalComments: production ? 'none' : 'inline',
  define: { __LWB_VERSION__: JSON.stringify(pkg.version) },
  absWorkingDir: root,
};
const node = { ...common, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', ...NATIVE] };

const configs = [
  { ...node, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
  { ...node, entryPoints: ['src/cli/lwb.ts'], outfile: 'dist/cli/lwb.js', banner: { js: '#!/usr/bin/env node' } },
  {
    ...node,
    entryPoints: walk(join(root, 'src/workers'), (p) => p.endsWith('.ts')).map((p) => relative(root, p)),
    outdir: 'dist/workers',
  },
];

const webviewEntries = readdirSync(join(root, 'webview'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, 'webview', d.name, 'main.ts')))
  .map((d) => d.name);
for (const name of webviewEntries) {
  configs.push({
    ...common,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    entryPoints: { [name]: `webview/${name}/main.ts` },
    outdir: 'dist/webview',
    loader: { '.css': 'css', '.ttf': 'file', '.woff2': 'file' },
  });
}

if (withTests) {
  const units = walk(join(root, 'test/unit'), (p) => p.endsWith('.test.ts')).map((p) => relative(root, p));
  configs.push({ ...node, entryPoints: units, outdir: 'out/test/unit', outbase: 'test/unit', sourcemap: 'inline' });
  const suite = walk(join(root, 'test/vscode/suite'), (p) => p.endsWith('.test.ts')).map((p) => relative(root, p));
  configs.push({
    ...node,
    entryPoints: suite,
    outdir: 'out/test/vscode/suite',
    outbase: 'test/vscode/suite',
    external: ['vscode', 'mocha', ...NATIVE],
    sourcemap: 'inline',
  });
  configs.push({
    ...node,
    entryPoints: {
      'runner-extension/extension': 'test/vscode/runner-extension/extension.ts',
      index: 'test/vscode/index.ts',
      runDesktop: 'test/vscode/runDesktop.ts',
    },
    outdir: 'out/test/vscode',
    external: ['vscode', 'mocha', '@vscode/test-electron', ...NATIVE],
  });
  const benches = walk(join(root, 'bench'), (p) => p.endsWith('.ts')).map((p) => relative(root, p));
  if (benches.length) configs.push({ ...node, entryPoints: benches, outdir: 'out/bench', outbase: 'bench' });
}

function copyStatic() {
  // the runner extension's manifest sits next to its bundle
  if (withTests) {
    mkdirSync(join(root, 'out/test/vscode/runner-extension'), { recursive: true });
    for (const f of ['package.json', 'LICENSE.md']) {
      const src = join(root, 'test/vscode/runner-extension', f);
      if (existsSync(src)) copyFileSync(src, join(root, 'out/test/vscode/runner-extension', basename(f)));
    }
  }
}

if (!watch) {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  if (withTests) rmSync(join(root, 'out'), { recursive: true, force: true });
}
const started = Date.now();
if (watch) {
  for (const c of configs) {
    const ctx = await esbuild.context(c);
    await ctx.watch();
  }
  console.log('[build] watching for changes');
} else {
  await Promise.all(configs.map((c) => esbuild.build(c)));
  copyStatic();
  console.log(
    `[build] ${configs.length} bundles${production ? ' (production)' : ''}${withTests ? ' + tests' : ''} in ${Date.now() - started} ms`,
  );
}
