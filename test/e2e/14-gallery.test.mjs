// The dataset gallery: thumbnails from the worker, a tag-expression filter, multi-select,
// opening an image's tags, an error tile for a corrupt image, and updates from file changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, openWorkbench, runCommand, screenshot, waitFor } from './workbench.mjs';

const concept = join(env.workspace, 'dataset', 'img_train', '5_tk girl');

/** The sample's tags per image, read here independently of the extension. */
function sampleTags() {
  return readdirSync(concept)
    .filter((n) => n.endsWith('.txt'))
    .map((n) => readFileSync(join(concept, n), 'utf8').split('\n')[0].split(',').map((t) => t.trim()));
}

async function counts(frame) {
  const el = frame.locator('.counts');
  await el.waitFor({ timeout: 5_000 });
  return {
    text: (await el.innerText()).replace(/\u00a0/g, ' '),
    matched: Number(await el.getAttribute('data-matched')),
    selected: Number(await el.getAttribute('data-selected')),
  };
}

test('the gallery shows thumbnails, filters by tag expression, selects and opens tags', { timeout: 300_000 }, async (t) => {
  const { browser, page, consoleErrors } = await openWorkbench();
  const txt1 = join(concept, '1.txt');
  const original1 = readFileSync(txt1);
  const broken = join(env.workspace, 'dataset', 'gallery-broken');
  try {
    // earlier tests may leave the terminal panel open: give the gallery the room
    if (await page.locator('.part.panel').isVisible().catch(() => false)) {
      await runCommand(page, 'View: Hide Panel').catch(() => {});
    }
    await runCommand(page, 'LoRA Workbench: Open Dataset Gallery');
    // the sample has two datasets: choose the training images
    const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'img_train' }).first();
    await pick.waitFor({ timeout: 20_000 });
    await pick.click();
    await page.locator('.tabs-container .tab', { hasText: 'Gallery: img_train' }).first().waitFor({ timeout: 20_000 });
    const frame = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
    await frame.locator('main[aria-busy="false"]').waitFor({ timeout: 60_000 });

    // every cell gets its thumbnail (decoded by the browser: naturalWidth > 0)
    await waitFor(
      async () => (await frame.locator('.cell .media img').evaluateAll((imgs) => imgs.filter((i) => i.complete && i.naturalWidth > 0).length)) === 14,
      120_000,
      '14 thumbnails',
    );
    let c = await counts(frame);
    assert.match(c.text, /^14 images · 0 selected$/);
    const names = await frame.locator('.cell .name').allInnerTexts();
    assert.equal(names.length, 14, 'only the 14 cells exist');
    assert.deepEqual(names.slice(0, 3), ['1.png', '2.png', '3.png']);
    assert.match(await frame.locator('.cell .tags').first().innerText(), /^tk, 1girl, solo/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'gallery')}`);

    // a tile's context menu: the reveal commands (no system file manager in a browser window)
    await frame.locator('.cell', { has: frame.locator('.name', { hasText: /^3\.png$/ }) }).first().click({ button: 'right' });
    const menu = page.locator('.context-view .monaco-menu');
    await menu.waitFor({ timeout: 15_000 });
    const menuItems = (await menu.locator('.action-item .action-label').allInnerTexts()).map((x) => x.trim()).filter(Boolean);
    assert.ok(menuItems.includes('Reveal in Explorer View') && menuItems.includes('Reveal in Datasets View'), `menu: ${menuItems.join(', ')}`);
    assert.ok(!menuItems.includes('Reveal in File Explorer'), 'no OS file manager in code-server');
    assert.equal((await counts(frame)).selected, 1, 'the right-clicked tile is selected');
    t.diagnostic(`screenshot: ${await screenshot(page, 'gallery-context-menu')}`);
    await page.locator('.context-view .action-item', { hasText: 'Reveal in Datasets View' }).first().click();
    // the Datasets view comes up with the image selected
    const revealed = page.locator('.part.sidebar .monaco-list-row.selected', { hasText: /(^|\s)3\.png/ }).first();
    await revealed.waitFor({ timeout: 20_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'gallery-reveal-datasets')}`);
    await page.locator('.tabs-container .tab', { hasText: 'Gallery: img_train' }).first().click();
    await frame.locator('main[aria-busy="false"]').waitFor({ timeout: 30_000 });

    // a tag expression: the expected count comes from the files themselves
    const expr = '1girl AND (dress OR skirt) AND NOT "santa hat"';
    const expected = sampleTags().filter((tags) => tags.includes('1girl') && (tags.includes('dress') || tags.includes('skirt')) && !tags.includes('santa_hat')).length;
    assert.ok(expected > 0 && expected < 14, `expected ${expected}`);
    const query = frame.locator('input.query');
    await query.fill(expr);
    await waitFor(async () => (await counts(frame)).matched === expected, 15_000, `${expected} matches`);
    c = await counts(frame);
    assert.equal(c.text, `14 images · ${expected} matches · 0 selected`);
    await waitFor(async () => (await frame.locator('.cell').evaluateAll((cs) => cs.filter((x) => x.style.display !== 'none').length)) === expected, 10_000, 'filtered cells');

    // multi-select: click, Ctrl-click, Shift-click a range, Ctrl+A
    const cells = frame.locator('.cell:not([style*="display: none"])');
    await cells.nth(0).click();
    assert.equal((await counts(frame)).selected, 1);
    await cells.nth(2).click({ modifiers: ['Control'] });
    assert.equal((await counts(frame)).selected, 2);
    await cells.nth(3).click({ modifiers: ['Shift'] });
    assert.equal((await counts(frame)).selected, 2, 'shift-click selects the range from the last clicked (2..3)');
    await cells.nth(0).click({ modifiers: ['Control', 'Shift'] });
    assert.equal((await counts(frame)).selected, 4, 'ctrl+shift adds the range 0..2');
    assert.equal(await frame.locator('.cell.selected').count(), 4);
    await frame.locator('.scroller').press('Control+a');
    assert.equal((await counts(frame)).selected, expected);
    t.diagnostic(`screenshot: ${await screenshot(page, 'gallery-filter')}`);

    // a syntax error says where
    await query.fill('1girl AND (smile');
    const err = frame.locator('.query-error .error');
    await err.waitFor({ timeout: 10_000 });
    assert.match(await err.innerText(), /never closed.*character 11/);
    assert.equal(await query.getAttribute('aria-invalid'), 'true');
    assert.equal(await frame.locator('.query-error mark').innerText(), '(');

    // a tag added on disk shows up without reopening the gallery
    await query.fill('gallery_probe');
    await waitFor(async () => (await counts(frame)).matched === 0, 10_000, 'no match before the edit');
    writeFileSync(txt1, `${original1.toString('utf8').trimEnd()}, gallery_probe\n`);
    await waitFor(async () => (await counts(frame)).matched === 1, 20_000, 'the edited tag file to be picked up');
    assert.equal(await frame.locator('.cell:not([style*="display: none"]) .name').first().innerText(), '1.png');

    // double-click opens its tags (the tag editor when installed, else the tag file beside)
    await frame.locator('.cell:not([style*="display: none"])').first().dblclick();
    await page.locator('.tabs-container .tab', { hasText: /^1\.txt|1\.png/ }).first().waitFor({ timeout: 20_000 });

    // after a window reload the gallery comes back with its folder and filter
    await runCommand(page, 'Developer: Reload Window');
    await page.waitForTimeout(3000);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.locator('.statusbar').waitFor({ timeout: 60_000 });
    const restoredTab = page.locator('.tabs-container .tab', { hasText: 'Gallery: img_train' }).first();
    await restoredTab.waitFor({ timeout: 60_000 });
    await restoredTab.click();
    const restored = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
    await waitFor(async () => (await counts(restored).catch(() => ({ matched: -1 }))).matched === 1, 90_000, 'the restored gallery');
    assert.equal(await restored.locator('input.query').inputValue(), 'gallery_probe');
    await waitFor(async () => (await restored.locator('.cell:not([style*="display: none"]) .media img').count()) === 1, 30_000, 'the restored thumbnail');

    // a corrupt image gets an error tile naming the problem
    mkdirSync(broken, { recursive: true });
    copyFileSync(join(concept, '2.png'), join(broken, 'good.png'));
    writeFileSync(join(broken, 'corrupt.png'), readFileSync(join(concept, '2.png')).subarray(0, 100));
    await runCommand(page, 'LoRA Workbench: Open Dataset Gallery');
    const choose = page.locator('.quick-input-list .monaco-list-row', { hasText: 'gallery-broken' }).first();
    await choose.waitFor({ timeout: 30_000 });
    await choose.click();
    await page.locator('.tabs-container .tab', { hasText: 'Gallery: gallery-broken' }).first().waitFor({ timeout: 20_000 });
    const tile = frame.locator('.cell .media.broken');
    await tile.waitFor({ timeout: 60_000 });
    assert.match(await tile.innerText(), /Cannot show this image/);
    assert.ok((await tile.locator('.broken-reason').innerText()).length > 5, 'the reason is named');
    const shown = frame.locator('.cell:not([style*="display: none"])');
    await waitFor(async () => (await shown.count()) === 2, 30_000, 'two cells');
    await waitFor(async () => (await shown.locator('.media img').count()) === 1, 30_000, 'the good image');
    t.diagnostic(`screenshot: ${await screenshot(page, 'gallery-broken')}`);

    const csp = consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e));
    assert.deepEqual(csp, [], 'no CSP violation');
  } finally {
    writeFileSync(txt1, original1);
    rmSync(broken, { recursive: true, force: true });
    await browser.close();
  }
});
