// The image audit in the Problems panel on a generated bad-image folder, and the Buckets view on
// the sample dataset, in a real VS Code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { clickRow, env, openLoraContainer, openWorkbench, runCommand, screenshot } from './workbench.mjs';
import { makeBadImageFolder } from '../fixtures/audit-images/badFolder.mjs';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'audit-images');

test('the Buckets view shows the sample dataset as its training config buckets it', { timeout: 180_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  try {
    const view = await openLoraContainer(page);
    const header = view.locator('.pane-header', { hasText: /buckets/i }).first();
    await header.waitFor({ timeout: 30_000 });
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    const pane = view.locator('.pane', { has: page.locator('.pane-header', { hasText: /buckets/i }) }).first();
    const rows = pane.locator('.monaco-list-row');
    const run = rows.filter({ hasText: 'config_file.toml' }).first();
    await run.waitFor({ timeout: 60_000 });
    assert.match(await run.innerText(), /35 steps\/epoch · 1024×1024 · bucketing off · batch 4/);
    const bucket = rows.filter({ hasText: '1024×1024' }).filter({ hasText: 'images' }).first();
    await bucket.waitFor({ timeout: 30_000 });
    assert.match(await bucket.innerText(), /16 images · 140 with repeats · 35 batches/);
    await clickRow(page, bucket);
    const file = rows.filter({ hasText: '1.png' }).first();
    await file.waitFor({ timeout: 15_000 });
    assert.match(await file.innerText(), /512×704 → 1024×1408 · ×5/);
    const title = await pane.locator('.pane-header').first().innerText();
    assert.match(title, /1024×1024 · bucketing off · batch 4 \(config_file\.toml\)/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'buckets-view')}`);
  } finally {
    await browser.close();
  }
});

test('the Problems panel lists the audit problems of a bad-image folder', { timeout: 240_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  const parent = join(env.workspace, 'audit-e2e');
  try {
    // created after the in-host suite has finished with the workspace
    makeBadImageFolder(parent, FIXTURES);
    await runCommand(page, 'LoRA Workbench: Run Image Audit');
    await page.keyboard.press('Control+Shift+M');
    const filter = page.getByPlaceholder(/^Filter \(e\.g\./).first();
    await filter.waitFor({ timeout: 15_000 });
    await filter.fill('**/audit-e2e/**');
    await runCommand(page, 'View: Toggle Maximized Panel');
    const markers = page.locator('.markers-panel .monaco-list-row');
    const exif = markers.filter({ hasText: /EXIF orientation 6/ }).first();
    await exif.waitFor({ timeout: 90_000 });
    for (const text of [/The file is empty \(0 bytes\)/, /not an image Pillow reads/, /looks cut short/, /CMYK JPEG/, /The content is PNG but the name ends in \.jpg/, /Same content as dup/]) {
      await markers.filter({ hasText: text }).first().waitFor({ timeout: 30_000 });
    }
    assert.match(await exif.innerText(), /lwb\.exifOrientation/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'image-audit-problems')}`);
  } finally {
    rmSync(parent, { recursive: true, force: true });
    await browser.close();
  }
});
