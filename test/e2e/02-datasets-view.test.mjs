// Clicks through the LoRA Workbench container in a real VS Code and saves screenshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clickRowUntil, expandRow, openLoraContainer, openWorkbench, screenshot, runCommand } from './workbench.mjs';

test('the LoRA Workbench container shows the sample dataset', { timeout: 180_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  try {
    const view = await openLoraContainer(page);
    const rows = view.locator('.monaco-list-row');
    const train = rows.filter({ hasText: 'img_train' }).first();
    await train.waitFor({ timeout: 30_000 });
    assert.match(await train.innerText(), /1 concept · 14 images/);
    const concept = rows.filter({ hasText: '5_tk girl' }).first();
    await concept.waitFor();
    assert.match(await concept.innerText(), /5× · "tk girl" · 14 images/);
    const image = rows.filter({ hasText: '1.png' }).first();
    await expandRow(page, concept, image);
    // size · bucket · tag count (from the tag file)
    assert.match(await image.innerText(), /\d+×\d+ · bucket \d+×\d+ · 31 tags/);
    const reg = rows.filter({ hasText: 'img_reg' }).first();
    assert.match(await reg.innerText(), /2 images/);
    await page.mouse.move(1, 1);
    t.diagnostic(`screenshot: ${await screenshot(page, 'datasets-view')}`);

    // clicking an image opens it in VS Code's image preview
    await clickRowUntil(page, image, page.locator('.tabs-container .tab', { hasText: '1.png' }).first(), { failureShot: 'datasets-view-no-tab' });
    // VS Code's image preview is a webview: wait until it has decoded the picture
    const preview = page.frameLocator('iframe.webview.ready').first().frameLocator('#active-frame').locator('img');
    await preview.first().waitFor({ timeout: 30_000 });
    // the inline action opens its tag file beside it
    await image.hover();
    await image.locator('.action-label[aria-label^="Open Caption or Tags"]').click();
    const tagTab = page.locator('.tabs-container .tab', { hasText: '1.txt' }).first();
    await tagTab.waitFor({ timeout: 15_000 });
    await page.locator('.monaco-editor .view-lines', { hasText: 'tk, 1girl' }).first().waitFor({ timeout: 15_000 });
    // the tag file gets the caption language (and its highlighting), not plain text
    await page.locator('.statusbar [aria-label="Caption / Tags (kohya)"], .statusbar-item', { hasText: 'Caption / Tags (kohya)' }).first().waitFor({ timeout: 15_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'image-and-tags')}`);

    // the Problems panel lists the tag checks of the whole dataset, not only of open files
    await page.keyboard.press('Control+Shift+M');
    const filter = page.getByPlaceholder(/^Filter \(e\.g\./).first();
    await filter.waitFor({ timeout: 15_000 });
    await filter.fill('blue_hair');
    const pollution = page.locator('.markers-panel .monaco-list-row', { hasText: "'blue_hair' is on 14 of 14 images" }).first();
    await pollution.waitFor({ timeout: 30_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'caption-problems')}`);
  } finally {
    await browser.close();
  }
});

test('the runtime check reports sharp and onnxruntime from the installed VSIX', { timeout: 120_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  try {
    await runCommand(page, 'LoRA Workbench: Check Image and ONNX Runtimes');
    const toast = page.locator('.notification-toast', { hasText: 'sharp' }).first();
    await toast.waitFor({ timeout: 60_000 });
    const text = await toast.innerText();
    assert.match(text, /sharp \d+\.\d+\.\d+ \(libvips [\d.]+\)/);
    assert.match(text, /onnxruntime \d+\.\d+\.\d+ \(.*cpu.*\)/);
    assert.doesNotMatch(text, /failed/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'runtime-check')}`);
  } finally {
    await browser.close();
  }
});

test('an empty window offers to open a folder', { timeout: 120_000 }, async (t) => {
  const { browser, page } = await openWorkbench(null);
  try {
    const view = await openLoraContainer(page);
    const welcome = view.locator('.welcome-view-content', { hasText: 'Open a folder that holds your training images' });
    await welcome.waitFor({ timeout: 30_000 });
    assert.ok(await welcome.locator('a, .monaco-button', { hasText: 'Open Folder' }).count());
    t.diagnostic(`screenshot: ${await screenshot(page, 'welcome-empty-window')}`);
  } finally {
    await browser.close();
  }
});
