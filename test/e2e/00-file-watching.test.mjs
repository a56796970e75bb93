// Files written by another program (a tagger, a copy in a shell) show up in the Datasets view.
// It runs first: in our runs, a code-server window opened after several others had connected
// and disconnected (code-server keeps their sessions for hours) sometimes got no file-watcher
// events at all, which would make this a test of the harness rather than of the extension.
// Its window is also where the in-host suite runs (the runner starts with the first window);
// openWorkbench waits for that suite to finish first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, openLoraContainer, openWorkbench, screenshot } from './workbench.mjs';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

test('a folder of images created outside VS Code appears in the Datasets view', { timeout: 420_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  const dir = join(env.workspace, 'added_outside');
  try {
    const view = await openLoraContainer(page);
    await view.locator('.monaco-list-row', { hasText: 'img_train' }).first().waitFor({ timeout: 30_000 });
    mkdirSync(join(dir, '3_outside'), { recursive: true });
    for (const n of ['a', 'b']) writeFileSync(join(dir, '3_outside', `${n}.png`), PNG);
    const row = view.locator('.monaco-list-row', { hasText: 'added_outside' }).first();
    await row.waitFor({ timeout: 60_000 });
    assert.match(await row.innerText(), /1 concept · 2 images/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'datasets-after-external-change')}`);
    rmSync(dir, { recursive: true, force: true });
    await row.waitFor({ state: 'detached', timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await browser.close();
  }
});
