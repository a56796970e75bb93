// Batch tag commands and the Tags view in a real VS Code: "Add Tags…" from the palette on the
// sample concept folder (target list, tag input with completion, position, the "N files will
// change" confirmation), the files change on disk, "Undo Last Tag Batch" puts every byte back;
// then the Tags view with counts, co-occurrence with the trigger word and a filter, next to a tag
// file with its trigger word highlighted; and a Tags view row's context menu (Move a Tag to the
// Front, confirmed, undone).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { clickRow, env, openLoraContainer, openWorkbench, runCommand, screenshot, waitFor, inHostResultsFromFirstWindow } from './workbench.mjs';

const concept = join(env.workspace, 'dataset', 'img_train', '5_tk girl');
const tagFiles = () => readdirSync(concept).filter((n) => n.endsWith('.txt')).sort();
const snapshot = () => new Map(tagFiles().map((n) => [n, readFileSync(join(concept, n))]));

test('a batch from the palette with its confirmation, undo, and the Tags view', { timeout: 480_000 }, async (t) => {
  // when only this file runs, the first window starts the in-host suite: let it finish first
  const r = await inHostResultsFromFirstWindow();
  console.log(`in-host suite: ${r.passed} passed, ${r.failed} failed, ${r.pending} pending`);
  for (const x of r.tests.filter((x) => x.state === 'failed')) console.log(`FAILED ${x.fullTitle}: ${x.error}`);
  assert.equal(r.failed, 0, 'the in-host suite passes');

  const before = snapshot();
  assert.equal(before.size, 14);
  const { browser, page } = await openWorkbench();
  try {
    const view = await openLoraContainer(page);
    await view.locator('.monaco-list-row', { hasText: 'img_train' }).first().waitFor({ timeout: 30_000 });

    // 1. palette → target → tags → position → confirmation
    await runCommand(page, 'LoRA Workbench: Add Tags…');
    const qi = page.locator('.quick-input-widget');
    const target = qi.locator('.quick-input-list .monaco-list-row', { hasText: '5_tk girl' }).first();
    await target.waitFor({ timeout: 20_000 });
    await target.click();
    await qi.locator('.quick-input-title', { hasText: 'which tags?' }).waitFor({ timeout: 15_000 });
    const input = qi.locator('input.input');
    // completion from the dataset's vocabulary: typing "blue_e" offers blue_eyes with its count
    await input.fill('blue_e');
    const completion = qi.locator('.quick-input-list .monaco-list-row', { hasText: 'blue_eyes' }).first();
    await completion.waitFor({ timeout: 15_000 });
    assert.match(await completion.innerText(), /\d+ files/);
    await input.fill('e2e_tag');
    const use = qi.locator('.quick-input-list .monaco-list-row', { hasText: 'these tags' }).first();
    await use.waitFor({ timeout: 15_000 });
    await use.click();
    const front = qi.locator('.quick-input-list .monaco-list-row', { hasText: 'At the front' }).first();
    await front.waitFor({ timeout: 15_000 });
    await front.click();
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 30_000 });
    const message = (await dialog.innerText()).replace(/\s+/g, ' ');
    t.diagnostic(`confirm: ${message}`);
    assert.match(message, /Add 'e2e_tag' at the front in 5_tk girl: 14 files will change \(14 tags added\)/);
    assert.match(message, /Undo Last Tag Batch/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'tags-batch-confirm')}`);
    assert.ok(readFileSync(join(concept, '1.txt')).equals(before.get('1.txt')), 'nothing changes before the confirmation');
    await dialog.locator('.monaco-button', { hasText: 'Apply' }).first().click();

    await waitFor(() => tagFiles().every((n) => readFileSync(join(concept, n), 'utf8').startsWith('e2e_tag, tk, ')), 30_000, 'every tag file to start with e2e_tag');
    const summary = page.locator('.notification-toast', { hasText: '14 files changed' }).first();
    await summary.waitFor({ timeout: 30_000 });
    assert.match(await summary.innerText(), /Undo/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'tags-batch-done')}`);

    // 2. undo from the palette: byte for byte
    await runCommand(page, 'LoRA Workbench: Undo Last Tag Batch');
    await waitFor(() => tagFiles().every((n) => readFileSync(join(concept, n)).equals(before.get(n))), 30_000, 'every tag file restored');
    await page.locator('.notification-toast', { hasText: /undid "Add 'e2e_tag'/ }).first().waitFor({ timeout: 30_000 });

    // 3. the Tags view: expand it, filter for "hair"
    await page.keyboard.press('Escape');
    const header = view.locator('.pane-header', { hasText: /^\s*Tags/i }).first();
    await header.waitFor({ timeout: 15_000 });
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    const tagsPane = view.locator('.pane', { has: page.locator('.pane-header', { hasText: /^\s*Tags/i }) }).first();
    const conceptRow = tagsPane.locator('.monaco-list-row', { hasText: '5_tk girl' }).first();
    await conceptRow.waitFor({ timeout: 30_000 });
    assert.match(await conceptRow.innerText(), /trigger 'tk'/);
    const hair = tagsPane.locator('.monaco-list-row', { hasText: 'blue_hair' }).first();
    await hair.waitFor({ timeout: 30_000 });
    assert.match(await hair.innerText(), /\d+ · 100% with trigger/);
    await runCommand(page, 'LoRA Workbench: Filter Tags…');
    const filter = page.locator('.quick-input-widget input.input');
    await filter.waitFor({ timeout: 15_000 });
    await filter.fill('hair');
    await page.keyboard.press('Enter');
    await tagsPane.locator('.pane-header', { hasText: 'filter: "hair"' }).waitFor({ timeout: 15_000 });
    await waitFor(async () => (await tagsPane.locator('.monaco-list-row', { hasText: '1girl' }).count()) === 0, 15_000, 'the filter to hide 1girl');

    // a tag file beside it: the trigger word is highlighted
    const datasetsRow = view.locator('.monaco-list-row', { hasText: '5_tk girl' }).first();
    await clickRow(page, datasetsRow);
    const image = view.locator('.monaco-list-row', { hasText: '1.png' }).first();
    await image.waitFor({ timeout: 15_000 });
    await image.hover();
    await image.locator('.action-label[aria-label^="Open Caption or Tags"]').click();
    await page.locator('.monaco-editor .view-lines', { hasText: 'tk, 1girl' }).first().waitFor({ timeout: 15_000 });
    // collapse the Datasets view so the Tags view gets the side bar
    await view.locator('.pane-header', { hasText: /^\s*Datasets/i }).first().click();
    await tagsPane.locator('.monaco-list-row', { hasText: 'blue_hair' }).first().waitFor({ timeout: 15_000 });
    await page.waitForTimeout(1000);
    await page.mouse.move(1, 1);
    t.diagnostic(`screenshot: ${await screenshot(page, 'tags-view')}`);

    // 4. a Tags view row's context menu: "Move a Tag to the Front…" on blue_hair, confirmed, then undone
    const hairRow = tagsPane.locator('.monaco-list-row', { hasText: 'blue_hair' }).first();
    const move = page.locator('.context-view .action-item', { hasText: 'Move a Tag to the Front' }).first();
    for (let attempt = 1; ; attempt++) {
      await page.keyboard.press('Escape');
      await hairRow.click({ button: 'right' });
      try {
        await move.waitFor({ timeout: 10_000 });
        break;
      } catch (e) {
        if (attempt >= 2) throw e;
      }
    }
    const menu = (await page.locator('.context-view .monaco-menu').first().innerText()).replace(/\s+/g, ' ');
    t.diagnostic(`menu: ${menu}`);
    for (const item of ['Select Images with This Tag', 'Remove Tags…', 'Replace or Rename a Tag…']) assert.ok(menu.includes(item), `the menu offers ${item}`);
    await move.hover();
    t.diagnostic(`screenshot: ${await screenshot(page, 'tags-view-context')}`);
    await move.click();
    const moveDialog = page.locator('.monaco-dialog-box');
    await moveDialog.waitFor({ timeout: 30_000 });
    const moveText = (await moveDialog.innerText()).replace(/\s+/g, ' ');
    t.diagnostic(`confirm: ${moveText}`);
    assert.match(moveText, /Move 'blue_hair' to the front in 5_tk girl: 14 files will change/);
    await moveDialog.locator('.monaco-button', { hasText: 'Apply' }).first().click();
    await waitFor(() => tagFiles().every((n) => readFileSync(join(concept, n), 'utf8').startsWith('blue_hair, tk, ')), 30_000, 'blue_hair first in every tag file');
    await runCommand(page, 'LoRA Workbench: Undo Last Tag Batch');
    await waitFor(() => tagFiles().every((n) => readFileSync(join(concept, n)).equals(before.get(n))), 30_000, 'every tag file restored after the move');
  } catch (e) {
    await screenshot(page, 'tags-batch-failure');
    throw e;
  } finally {
    await browser.close();
  }
});
