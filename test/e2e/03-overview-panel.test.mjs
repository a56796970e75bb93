// The dataset overview webview: opened from the Datasets view, rendered under a strict CSP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLoraContainer, openWorkbench, screenshot } from './workbench.mjs';

test('the dataset overview shows concepts, tags and problems', { timeout: 180_000 }, async (t) => {
  const { browser, page, consoleErrors } = await openWorkbench();
  try {
    const view = await openLoraContainer(page);
    const train = view.locator('.monaco-list-row', { hasText: 'img_train' }).first();
    await train.waitFor({ timeout: 30_000 });
    // the inline action shows on hover; the row is re-rendered while the index fills in sizes and
    // tags (the hover is lost then), so hover again until the click lands
    for (let attempt = 1; ; attempt++) {
      try {
        await train.hover();
        await train.locator('.action-label[aria-label^="Show Dataset Overview"]').click({ timeout: 5_000 });
        break;
      } catch (e) {
        if (attempt >= 6) throw e;
        await page.mouse.move(1, 1);
      }
    }
    await page.locator('.tabs-container .tab', { hasText: 'Dataset: img_train' }).first().waitFor({ timeout: 15_000 });

    const frame = page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
    await frame.locator('main[aria-busy="false"] h1', { hasText: 'img_train' }).waitFor({ timeout: 30_000 });
    const row = frame.locator('table tbody tr').first();
    const cells = await row.locator('td').allInnerTexts();
    assert.deepEqual(cells, ['5_tk girl', '5', 'tk girl', '14', '14', '0', '70']);
    const cards = await frame.locator('.card').allInnerTexts();
    assert.ok(cards.some((c) => /^14\s+images$/.test(c.trim())), cards.join(' | '));
    assert.ok(cards.some((c) => /^70\s+samples per epoch$/.test(c.trim())), cards.join(' | '));
    // "tk" (the trigger) is on all 14 tag files and is flagged as such
    const tk = frame.locator('.tag.all', { hasText: /^tk\s*14$/ });
    assert.equal(await tk.count(), 1);
    assert.match(await frame.locator('h2', { hasText: 'Caption problems' }).innerText(), /\(0\)/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'dataset-overview')}`);

    // the refresh button (a vscode-elements web component) asks the host again
    await frame.locator('vscode-button', { hasText: 'Refresh' }).click();
    await frame.locator('main[aria-busy="false"] h1', { hasText: 'img_train' }).waitFor();
    const csp = consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e));
    assert.deepEqual(csp, [], 'no CSP violation');
  } finally {
    await browser.close();
  }
});
