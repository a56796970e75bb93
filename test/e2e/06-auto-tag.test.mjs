// WD14 auto-tagging in a real VS Code: the tiny test model (test/fixtures/tiny-wd14) is set in the
// workspace settings, the sample dataset is tagged from the Datasets view's context menu, the
// progress and summary notifications and the new tag file are captured, and Undo puts the
// sample's own tags back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clickRow, env, openLoraContainer, openWorkbench, runCommand, screenshot, waitFor, inHostResultsFromFirstWindow } from './workbench.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const concept = join(env.workspace, 'dataset', 'img_train', '5_tk girl');

test('auto-tags the sample dataset with the test model, then undoes it', { timeout: 420_000 }, async (t) => {
  // the model folder comes from the workspace settings, written before the window opens
  const model = join(dirname(env.workspace), 'tiny-wd14-model');
  cpSync(join(root, 'test', 'fixtures', 'tiny-wd14', 'model'), model, { recursive: true });
  const settingsFile = join(env.workspace, '.vscode', 'settings.json');
  mkdirSync(dirname(settingsFile), { recursive: true });
  const settings = existsSync(settingsFile) ? JSON.parse(readFileSync(settingsFile, 'utf8')) : {};
  writeFileSync(settingsFile, JSON.stringify({ ...settings, 'loraWorkbench.tagger.modelFolder': model }, null, 2));
  const original = readFileSync(join(concept, '1.txt'), 'utf8');
  assert.match(original, /^tk, 1girl/);

  // when only this file runs, the first window starts the in-host suite: let it finish, then
  // work in a fresh window (without the suite's notifications)
  const r = await inHostResultsFromFirstWindow();
  console.log(`in-host suite: ${r.passed} passed, ${r.failed} failed, ${r.pending} pending in VS Code ${r.vscodeVersion} (Node ${r.node})`);
  console.log(`in-host metrics: ${JSON.stringify(r.metrics)}`);
  for (const x of r.tests.filter((x) => x.state === 'failed')) console.log(`FAILED ${x.fullTitle}: ${x.error}`);
  assert.equal(r.failed, 0, 'the in-host suite passes');

  const { browser, page } = await openWorkbench();
  try {

    const view = await openLoraContainer(page);
    const train = view.locator('.monaco-list-row', { hasText: 'img_train' }).first();
    await train.waitFor({ timeout: 30_000 });
    await page.mouse.move(1, 1);
    await train.click({ button: 'right' });
    const item = page.locator('.context-view .action-item', { hasText: 'Auto-tag with WD14' }).first();
    await item.waitFor({ timeout: 15_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'auto-tag-context-menu')}`);
    await item.click();

    // the progress notification (a quick run may finish before it is captured)
    const progress = page.locator('.notification-toast', { hasText: 'Auto-tagging img_train with WD14' }).first();
    try {
      await progress.waitFor({ timeout: 20_000 });
      await page.waitForTimeout(400); // the toast slides in
      t.diagnostic(`screenshot: ${await screenshot(page, 'auto-tag-progress')}`);
    } catch {
      t.diagnostic('the progress notification was gone before it could be captured');
    }
    const summary = page.locator('.notification-toast', { hasText: 'tagged 14 images in img_train' }).first();
    await summary.waitFor({ timeout: 180_000 });
    const text = await summary.innerText();
    assert.match(text, /Undo/);
    assert.match(text, /Show Log/);
    assert.doesNotMatch(text, /failed/);
    t.diagnostic(`summary: ${text.replace(/\s+/g, ' ')}`);
    t.diagnostic(`screenshot: ${await screenshot(page, 'auto-tag-summary')}`);

    // the tag files hold the model's tags (the tiny model always finds ^_^ and kirisame_marisa)
    const tagged = readFileSync(join(concept, '1.txt'), 'utf8');
    assert.match(tagged, /\^_\^/);
    assert.match(tagged, /kirisame_marisa\n$/);
    assert.doesNotMatch(tagged, /1girl/);

    // open the image's tag file from the tree: the editor shows the new tags
    const conceptRow = view.locator('.monaco-list-row', { hasText: '5_tk girl' }).first();
    await clickRow(page, conceptRow);
    const image = view.locator('.monaco-list-row', { hasText: '1.png' }).first();
    await image.waitFor({ timeout: 15_000 });
    await image.hover();
    await image.locator('.action-label[aria-label^="Open Caption or Tags"]').click();
    await page.locator('.tabs-container .tab', { hasText: '1.txt' }).first().waitFor({ timeout: 15_000 });
    const editorText = page.locator('.monaco-editor .view-lines', { hasText: 'kirisame_marisa' }).first();
    await editorText.waitFor({ timeout: 15_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'auto-tag-result')}`);

    // undo the whole run from the palette: the sample's own tags come back, in the editor too
    await runCommand(page, 'LoRA Workbench: Undo Last Tag Batch');
    await page.locator('.notification-toast', { hasText: /undid "Auto-tag img_train with WD14": 14 file/ }).first().waitFor({ timeout: 30_000 });
    await waitFor(() => readFileSync(join(concept, '1.txt'), 'utf8') === original, 15_000, '1.txt to be restored');
    await page.locator('.monaco-editor .view-lines', { hasText: 'tk, 1girl' }).first().waitFor({ timeout: 30_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'auto-tag-undone')}`);

    // suggest mode on one image: a multi-select list of the model's tags with their scores, the
    // ones already in the tag file ticked
    const pick = page.locator('.quick-input-widget', { hasText: 'Tags for 1.png' });
    const asked = page.locator('.quick-input-widget', { hasText: 'Suggest tags for which image?' });
    // the undo above refreshes the tree; a right-click during that refresh can land on a row that
    // is being replaced, so try again once if the command did not get the image
    for (let attempt = 1; ; attempt++) {
      await page.mouse.move(1, 1);
      await page.waitForTimeout(500);
      await image.click({ button: 'right' });
      const suggest = page.locator('.context-view .action-item', { hasText: 'Suggest Tags for Image' }).first();
      await suggest.waitFor({ timeout: 15_000 });
      await suggest.click();
      const which = await Promise.race([
        pick.waitFor({ timeout: 60_000 }).then(() => 'pick'),
        asked.waitFor({ timeout: 60_000 }).then(() => 'asked'),
      ]);
      if (which === 'pick') break;
      await page.keyboard.press('Escape');
      if (attempt >= 2) throw new Error('the suggest command did not receive the image from the tree');
    }
    const rows = pick.locator('.quick-input-list .monaco-list-row');
    await rows.first().waitFor({ timeout: 15_000 });
    const first = await rows.first().innerText();
    assert.match(first, /\d+(\.\d)?%/, first);
    // solo is in the sample's 1.txt: it is ticked
    const solo = rows.filter({ hasText: /^solo/ }).first();
    await solo.waitFor({ timeout: 15_000 });
    assert.match(await solo.innerText(), /in the file/);
    assert.equal(await solo.getAttribute('aria-checked'), 'true');
    await page.mouse.move(1, 1); // no tree tooltip over the picture
    await page.waitForTimeout(300);
    t.diagnostic(`screenshot: ${await screenshot(page, 'suggest-tags')}`);
    await page.keyboard.press('Escape');
    assert.equal(readFileSync(join(concept, '1.txt'), 'utf8'), original, 'closing the list changes nothing');
  } catch (e) {
    await screenshot(page, 'auto-tag-failure');
    throw e;
  } finally {
    await browser.close();
  }
});
