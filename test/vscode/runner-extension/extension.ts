/**
 * A tiny extension, installed only in test runs, that does in code-server what
 * `--extensionTestsPath` does in desktop VS Code: it loads the in-host suite entry
 * (LWB_TEST_ENTRY, i.e. out/test/vscode/index.js) and runs it once. The entry writes the results
 * to LWB_TEST_RESULTS; if the entry cannot even load, this writes the failure there instead.
 */
import { existsSync, writeFileSync, renameSync } from 'node:fs';

export async function activate(): Promise<void> {
  const entry = process.env.LWB_TEST_ENTRY;
  const results = process.env.LWB_TEST_RESULTS;
  if (!entry || !results) return;
  // one run per server: later windows (e.g. the UI tests) must not start the suite again
  if (existsSync(results) || existsSync(`${results}.started`)) return;
  writeFileSync(`${results}.started`, String(process.pid));
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const suite = require(entry) as { run(): Promise<void> };
    await suite.run();
  } catch (e) {
    if (!existsSync(results)) {
      const tmp = `${results}.tmp`;
      writeFileSync(tmp, JSON.stringify({ loadError: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
      renameSync(tmp, results);
    }
  }
}

export function deactivate(): void {}
