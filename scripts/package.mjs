// `npm run package`: production build, then a linux-x64 VSIX with @vscode/vsce.
// The VSIX holds the bundles, media, syntaxes and the native modules for linux-x64 only
// (see .vscodeignore); `test/package/vsix.test.mjs` checks its file list and size.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// .vscodeignore re-includes the linux-x64 native binaries only, so that is the one target
const target = 'linux-x64';
const out = process.env.LWB_VSIX ?? join(root, `${pkg.name}-${pkg.version}-${target}.vsix`);

execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--production'], { stdio: 'inherit', cwd: root });
execFileSync(
  process.execPath,
  [join(root, 'node_modules/@vscode/vsce/vsce'), 'package', '--target', target, '--allow-missing-repository', '--no-rewrite-relative-links', '--out', out],
  { stdio: 'inherit', cwd: root },
);
console.log(out);
