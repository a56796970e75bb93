/**
 * `npm run test:desktop`: runs the same in-host suite in a desktop VS Code that
 * `@vscode/test-electron` downloads (needs the network; not used in CI here, where code-server
 * serves VS Code instead). Set LWB_VSCODE_VERSION to pick a version (default 1.99.3).
 */
import * as path from 'node:path';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..', '..');
  const workspace = mkdtempSync(path.join(tmpdir(), 'lwb-desktop-'));
  cpSync(path.join(root, 'sample'), workspace, { recursive: true });
  await runTests({
    version: process.env.LWB_VSCODE_VERSION ?? '1.99.3',
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(__dirname, 'index.js'),
    launchArgs: [workspace, '--disable-extensions', '--skip-welcome', '--skip-release-notes', '--disable-workspace-trust'],
    extensionTestsEnv: { LWB_SAMPLE_WORKSPACE: workspace },
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
