// Opens the sample workspace (which starts the extension host); the runner extension then runs
// the in-host mocha suite and writes its results, which this test reports and checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { env, extensionHostLogs, logEntries, openWorkbench, waitFor } from './workbench.mjs';

test('the in-host suite passes inside VS Code 1.99.3', { timeout: 300_000 }, async (t) => {
  const { browser } = await openWorkbench();
  try {
    await waitFor(() => existsSync(env.results), 240_000, 'the in-host suite results');
  } finally {
    await browser.close();
  }
  const r = JSON.parse(readFileSync(env.results, 'utf8'));
  assert.equal(r.loadError, undefined, `the suite did not load: ${r.loadError}`);
  for (const x of r.tests) {
    t.diagnostic(`${x.state === 'passed' ? 'ok  ' : x.state.toUpperCase()} ${x.fullTitle} (${x.durationMs} ms)`);
    if (x.error) t.diagnostic(x.error);
  }
  console.log(`in-host suite: ${r.passed} passed, ${r.failed} failed, ${r.pending} pending in VS Code ${r.vscodeVersion} (Node ${r.node})`);
  console.log(`in-host metrics: ${JSON.stringify(r.metrics)}`);
  assert.equal(r.vscodeVersion, '1.99.3');
  assert.equal(r.failed, 0, r.tests.filter((x) => x.state === 'failed').map((x) => `${x.fullTitle}: ${x.error}`).join('\n'));
  assert.equal(r.pending, 0);
  assert.ok(r.passed >= 8, `only ${r.passed} tests ran`);
  assert.ok(typeof r.metrics.activationMs === 'number');
});

test('the extension host log shows a clean activation', () => {
  const logs = extensionHostLogs();
  assert.ok(logs.length > 0, 'an exthost.log exists');
  const text = logs.map((f) => readFileSync(f, 'utf8')).join('\n');
  assert.match(text, /ExtensionService#_doActivateExtension lora-workbench\.lora-workbench/);
  // an error entry that names our extension (its id or its install folder) fails the test
  const ours = logEntries(text).filter((e) => /\[error\]/.test(e) && /lora-workbench\.lora-workbench/.test(e));
  assert.deepEqual(ours, [], 'no error in the extension host log comes from LoRA Workbench');
  const activation = text.split('\n').find((l) => /_doActivateExtension lora-workbench\.lora-workbench/.test(l));
  console.log(`exthost.log: ${activation?.trim()}`);
});
