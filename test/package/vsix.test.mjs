// Checks the VSIX that `npm run package` made: what it must hold, what it must not, and its size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractZip, listZip } from './zip.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const vsix = process.env.LWB_VSIX ?? join(root, `${pkg.name}-${pkg.version}-linux-x64.vsix`);

test('the VSIX exists (npm run package)', () => {
  assert.ok(existsSync(vsix), `${vsix} is missing`);
});

const { entries, bytes } = existsSync(vsix) ? listZip(vsix) : { entries: [], bytes: 0 };
const names = entries.map((e) => e.name);
const files = names.filter((n) => n.startsWith('extension/')).map((n) => n.slice('extension/'.length));

test('holds the bundles, the manifest and the media', () => {
  for (const f of ['package.json', 'readme.md', 'LICENSE.txt', 'dist/extension.js', 'dist/cli/lwb.js', 'dist/workers/nativeProbe.js']) {
    assert.ok(files.includes(f), `${f} is in the VSIX`);
  }
  const walk = (dir) =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
          .filter((d) => d.isFile())
          .map((d) => relative(root, join(d.parentPath ?? d.path, d.name)).split('\\').join('/'))
      : [];
  const assets = [...walk('media'), ...walk('syntaxes'), ...walk('docs/images')];
  assert.ok(assets.length > 0);
  for (const f of assets) assert.ok(files.includes(f), `${f} is in the VSIX`);
  // every image the README shows is in the VSIX, where VS Code's extension page finds it
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const m of readme.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)) assert.ok(files.includes(m[1]), `${m[1]} (README image)`);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.ok(files.includes(manifest.main.replace(/^\.\//, '')), 'main points into the VSIX');
});

test('holds the linux-x64 native modules that the workers load', () => {
  const needed = [
    'node_modules/sharp/package.json',
    'node_modules/sharp/dist/index.cjs',
    'node_modules/@img/sharp-linux-x64/package.json',
    'node_modules/detect-libc/package.json',
    'node_modules/semver/package.json',
    'node_modules/@img/colour/package.json',
    'node_modules/onnxruntime-node/package.json',
    'node_modules/onnxruntime-node/dist/index.js',
    'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
    'node_modules/onnxruntime-common/dist/cjs/index.js',
  ];
  for (const f of needed) assert.ok(files.includes(f), `${f} is in the VSIX`);
  assert.ok(files.some((f) => /^node_modules\/@img\/sharp-linux-x64\/lib\/sharp-linux-x64(-[\d.]+)?\.node$/.test(f)), 'sharp binding');
  assert.ok(files.some((f) => /^node_modules\/@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/.test(f)), 'libvips');
});

test('holds nothing that does not belong', () => {
  const forbidden = [
    [/^(src|test|bench|scripts|sample|out|webview|artifacts|\.ci|\.vscode-test)\//, 'sources, tests, benches, scripts or samples'],
    [/\.ts$/, 'TypeScript sources'],
    [/\.map$/, 'source maps'],
    [/(^|\/)(tsconfig|eslint\.config)/, 'build configuration'],
    [/\.vsix$/, 'other VSIX files'],
    [/\/(darwin|win32)\//, 'other platforms\' binaries'],
    [/(arm64|armv7|musl|s390x|ppc64|riscv64|wasm32)/, 'other architectures\' binaries'],
    [/^node_modules\/(typescript|esbuild|@esbuild|eslint|mocha|playwright-core|@vscode\/vsce|smol-toml|uplot|adm-zip|global-agent)\//, 'bundled or dev-only packages'],
  ];
  for (const [re, what] of forbidden) {
    const bad = files.filter((f) => re.test(f));
    assert.deepEqual(bad, [], `no ${what}`);
  }
  const allowedTop = new Set(['package.json', 'readme.md', 'changelog.md', 'LICENSE.txt', 'dist', 'media', 'syntaxes', 'docs', 'node_modules']);
  const tops = [...new Set(files.map((f) => f.split('/')[0]))];
  assert.deepEqual(tops.filter((t) => !allowedTop.has(t)), []);
});

test('stays small', () => {
  const unpacked = entries.reduce((n, e) => n + e.size, 0);
  console.log(`VSIX: ${names.length} entries, ${(bytes / 1048576).toFixed(1)} MiB packed, ${(unpacked / 1048576).toFixed(1)} MiB unpacked`);
  // about 25 MiB today, almost all of it onnxruntime and libvips
  assert.ok(bytes < 40 * 1048576, `${bytes} bytes packed`);
  assert.ok(unpacked < 90 * 1048576, `${unpacked} bytes unpacked`);
  const dist = entries.filter((e) => e.name.startsWith('extension/dist/')).reduce((n, e) => n + e.size, 0);
  assert.ok(dist < 2 * 1048576, `bundles are ${dist} bytes`);
});

test('works unpacked: the worker loads sharp and onnxruntime, the CLI runs', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lwb-vsix-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ext = extractZip(vsix, dir);
  // run from the unpacked VSIX only: no access to the repository's node_modules
  const probe = JSON.parse(execFileSync(process.execPath, [join(ext, 'dist/workers/nativeProbe.js')], { cwd: ext, encoding: 'utf8' }));
  assert.equal(probe.sharp.ok, true, JSON.stringify(probe.sharp));
  assert.equal(probe.sharp.decodedPixels, 6);
  assert.equal(probe.onnxruntime.ok, true, JSON.stringify(probe.onnxruntime));
  assert.ok(probe.onnxruntime.backends.includes('cpu'));
  const version = execFileSync(process.execPath, [join(ext, 'dist/cli/lwb.js'), '--version'], { encoding: 'utf8' }).trim();
  assert.equal(version, pkg.version);
});
