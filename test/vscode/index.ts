/**
 * Entry of the in-host suite: `run()` is what `@vscode/test-electron` calls through
 * `extensionTestsPath`, and what the code-server runner extension calls. It runs every
 * `suite/*.test.js` with mocha inside the extension host, writes the results to LWB_TEST_RESULTS
 * (atomically) when that is set, and rejects when a test failed.
 */
import * as path from 'node:path';
import { readdirSync, writeFileSync, renameSync } from 'node:fs';
import Mocha from 'mocha';

export interface InHostTestResult {
  title: string;
  fullTitle: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs: number;
  error?: string;
}

export interface InHostResults {
  vscodeVersion: string;
  node: string;
  passed: number;
  failed: number;
  pending: number;
  tests: InHostTestResult[];
  /** numbers the tests measured (e.g. activation time), printed by the harness */
  metrics: Record<string, number | string>;
  durationMs: number;
}

/** Tests put measurements here; the harness prints them. */
export const metrics: Record<string, number | string> = {};
(globalThis as { __lwbMetrics?: Record<string, number | string> }).__lwbMetrics = metrics;

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter: 'spec' });
  const dir = path.join(__dirname, 'suite');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.test.js')).sort()) mocha.addFile(path.join(dir, f));
  const tests: InHostTestResult[] = [];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const vscode = require('vscode') as typeof import('vscode');
      const out: InHostResults = {
        vscodeVersion: vscode.version,
        node: process.version,
        passed: tests.filter((t) => t.state === 'passed').length,
        failed: tests.filter((t) => t.state === 'failed').length,
        pending: tests.filter((t) => t.state === 'pending').length,
        tests,
        metrics,
        durationMs: Date.now() - started,
      };
      const file = process.env.LWB_TEST_RESULTS;
      if (file) {
        writeFileSync(`${file}.tmp`, JSON.stringify(out, null, 2));
        renameSync(`${file}.tmp`, file);
      }
      if (failures > 0) reject(new Error(`${failures} in-host test(s) failed`));
      else resolve();
    });
    const record = (state: InHostTestResult['state']) => (test: Mocha.Test, err?: Error) => {
      tests.push({
        title: test.title,
        fullTitle: test.fullTitle(),
        state,
        durationMs: test.duration ?? 0,
        ...(err ? { error: err.stack ?? err.message } : {}),
      });
    };
    runner.on('pass', record('passed'));
    runner.on('fail', record('failed'));
    runner.on('pending', record('pending'));
  });
}
