// `npm run test:vscode`: the tests inside a real VS Code (code-server 4.99.4 = VS Code 1.99.3).
//
// 1. installs code-server into the per-user cache (scripts/install-code-server.sh) if needed;
// 2. installs the freshly built VSIX and the test-runner extension into a throw-away
//    extensions dir, and copies the sample workspace to a temporary folder;
// 3. starts code-server on 127.0.0.1 and runs test/e2e/*.test.mjs with Node's test runner:
//    the first opens the workbench, which starts the extension host, where the runner extension
//    runs the in-host mocha suite and writes its results to a file; the others click through the
//    UI with Playwright (Debian Chromium) and save screenshots to artifacts/. The files run one
//    after another; a file that fails runs once more (at most three files), and the run fails if
//    any file fails twice.
// Options: LWB_NO_RETRY=1 runs each file once; LWB_KEEP=1 keeps the temporary folder; LWB_E2E_FILTER=<name>[,<name>…] runs the files whose names contain one of them.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const log = (m) => console.log(`[vscode-tests] ${m}`);

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, ms) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer at ${url} within ${ms} ms: ${last?.message ?? ''}`);
}

const started = Date.now();
// 1. code-server and Chromium
run('bash', [join(root, 'scripts/ensure-apt.sh'), 'chromium', 'fonts-dejavu-core', 'fonts-wqy-microhei'], { stdio: 'inherit' });
const entry = run('bash', [join(root, 'scripts/install-code-server.sh')]).trim().split('\n').pop();
if (!entry || !existsSync(entry)) throw new Error('code-server is not installed');

// 2. the VSIX under test, the test bundles and the runner extension
const vsix = process.env.LWB_VSIX ?? join(root, `${pkg.name}-${pkg.version}-linux-x64.vsix`);
if (!existsSync(vsix)) throw new Error(`${vsix} is missing: run 'npm run package' first`);
if (!existsSync(join(root, 'out/test/vscode/index.js'))) run(process.execPath, ['scripts/build.mjs', '--tests'], { stdio: 'inherit' });
const runnerDir = join(root, 'out/test/vscode/runner-extension');
const runnerVsix = join(root, 'out/test/vscode/lwb-test-runner.vsix');
run(process.execPath, [
  join(root, 'node_modules/@vscode/vsce/vsce'), 'package', '--no-dependencies', '--skip-license',
  '--allow-missing-repository', '--out', runnerVsix,
], { cwd: runnerDir, stdio: ['ignore', 'ignore', 'inherit'] });

const tmp = mkdtempSync(join(tmpdir(), 'lwb-vscode-'));
const userData = join(tmp, 'user-data');
const extensions = join(tmp, 'extensions');
const workspace = join(tmp, 'workspace');
const results = join(tmp, 'in-host-results.json');
const artifacts = join(root, 'artifacts');
mkdirSync(artifacts, { recursive: true });
cpSync(join(root, 'sample'), workspace, { recursive: true });
// quiet, offline-friendly user settings: no telemetry (its failed DNS look-ups surface as
// unhandled errors in the extension host), no start page, no update checks
mkdirSync(join(userData, 'User'), { recursive: true });
writeFileSync(
  join(userData, 'User', 'settings.json'),
  JSON.stringify({
    'telemetry.telemetryLevel': 'off',
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'security.workspace.trust.enabled': false,
    'git.enabled': false,
    // other extensions' task detection slows "Tasks: Run Task" down on a loaded machine
    'npm.autoDetect': 'off',
    'grunt.autoDetect': 'off',
    'gulp.autoDetect': 'off',
    'jake.autoDetect': 'off',
    'typescript.tsc.autoDetect': 'off',
  }, null, 2),
);
for (const file of [vsix, runnerVsix]) {
  run(process.execPath, [entry, '--extensions-dir', extensions, '--user-data-dir', userData, '--install-extension', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const installed = readdirSync(extensions).filter((d) => !d.startsWith('.') && d !== 'extensions.json');
log(`installed into a fresh extensions dir: ${installed.join(', ')}`);

// 3. the server, then the tests
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = spawn(
  process.execPath,
  [
    entry, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', '--config', join(tmp, 'code-server.yaml'),
    '--user-data-dir', userData,
    '--extensions-dir', extensions, workspace,
  ],
  {
    cwd: tmp,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LWB_TEST_ENTRY: join(root, 'out/test/vscode/index.js'),
      LWB_TEST_RESULTS: results,
    },
  },
);
let serverLog = '';
server.stdout.on('data', (d) => (serverLog += d));
server.stderr.on('data', (d) => (serverLog += d));
const stopServer = () => {
  try {
    process.kill(-server.pid, 'SIGTERM'); // the server and the extension hosts it started
  } catch {
    /* already gone */
  }
};
process.on('exit', stopServer);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

let code = 1;
try {
  await waitForHttp(`${url}/healthz`, 60_000);
  log(`code-server ${run(process.execPath, [entry, '--version']).split(' ')[0]} at ${url} (ready after ${Date.now() - started} ms)`);
  const filters = (process.env.LWB_E2E_FILTER ?? '').split(',').filter(Boolean);
  const files = readdirSync(join(root, 'test/e2e'))
    .filter((f) => f.endsWith('.test.mjs') && (filters.length === 0 || filters.some((x) => f.includes(x))))
    .sort()
    .map((f) => join('test/e2e', f));
  const env = { ...process.env, LWB_URL: url, LWB_WORKSPACE: workspace, LWB_RESULTS: results, LWB_USER_DATA: userData, LWB_ARTIFACTS: artifacts };
  /** runs one test file; its TAP goes to `<LWB_TAP without .tap>-<file>.tap` */
  const runFile = (file) =>
    new Promise((resolve) => {
      const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout'];
      const tap = process.env.LWB_TAP ? process.env.LWB_TAP.replace(/\.tap$/, `-${basename(file, '.test.mjs')}.tap`) : undefined;
      if (tap) reporters.push('--test-reporter=tap', `--test-reporter-destination=${tap}`);
      const t = spawn(process.execPath, ['--test', '--test-concurrency=1', ...reporters, file], { cwd: root, stdio: 'inherit', env });
      t.on('exit', (c) => resolve({ code: c ?? 1, tap }));
    });
  // one file after another; a file that fails is run once more, in fresh windows. The UI tests
  // drive a real VS Code under whatever load the machine has, and a row re-rendered under the
  // mouse or a quick input that comes late fails a different test in a different run; a real
  // regression fails twice. The first attempt's TAP is kept beside the reports, not counted.
  const retried = [];
  const failedTwice = [];
  for (const file of files) {
    let r = await runFile(file);
    if (r.code !== 0 && !process.env.LWB_NO_RETRY && retried.length < 3) {
      if (r.tap && existsSync(r.tap)) cpSync(r.tap, r.tap.replace(/\.tap$/, '.first-attempt.txt'));
      log(`${file} failed; running it once more (LWB_NO_RETRY=1 turns this off)`);
      retried.push(file);
      r = await runFile(file);
      log(`${file} ${r.code === 0 ? 'passed on its second attempt' : 'failed again'}`);
    }
    if (r.code !== 0) failedTwice.push(file);
  }
  if (retried.length) log(`run twice: ${retried.join(', ')}; failed: ${failedTwice.length ? failedTwice.join(', ') : 'none'}`);
  code = failedTwice.length ? 1 : 0;
} catch (e) {
  console.error(`[vscode-tests] ${e.message}`);
} finally {
  stopServer();
  if (code !== 0) {
    log('code-server output (last 4000 characters):');
    console.log(serverLog.slice(-4000));
  }
  if (process.env.LWB_TAP && existsSync(results)) cpSync(results, join(dirname(process.env.LWB_TAP), 'in-host.json'));
  // keep the logs of the run with the screenshots
  try {
    const logs = join(userData, 'logs');
    rmSync(join(artifacts, 'vscode-logs'), { recursive: true, force: true });
    if (existsSync(logs)) cpSync(logs, join(artifacts, 'vscode-logs'), { recursive: true });
  } catch {
    /* best effort */
  }
  if (!process.env.LWB_KEEP) rmSync(tmp, { recursive: true, force: true });
  else log(`kept ${tmp}`);
}
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(code);
