// Tag-list completion in a real editor: with loraWorkbench.captions.tagList set to a WD14
// selected_tags.csv, typing the prefix of a tag that is only in the list offers it (marked as from
// the list) and Enter inserts it; hovering a tag shows its count and previews of images with it;
// the tag editor's autocomplete offers listed tags too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, inHostResultsFromFirstWindow, ownInHostFailures, openWorkbench, runCommand, screenshot, waitFor } from './workbench.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const concept = join(env.workspace, 'dataset', 'img_train', '5_tk girl');

/** Opens a workspace file through the Explorer (folder by folder), which needs no search index. */
async function openFile(page, relPath) {
  await page.keyboard.press('Control+Shift+E');
  const explorer = page.locator('.explorer-folders-view');
  await explorer.waitFor({ timeout: 20_000 });
  const parts = relPath.split('/');
  for (const [i, part] of parts.entries()) {
    const row = explorer.getByRole('treeitem', { name: part, exact: true }).first();
    await row.waitFor({ timeout: 20_000 });
    const expanded = await row.getAttribute('aria-expanded');
    if (i < parts.length - 1 && expanded === 'true') continue;
    await row.click();
  }
  await page.locator('.tabs-container .tab', { hasText: parts[parts.length - 1] }).first().waitFor({ timeout: 20_000 });
}

test('tag-list completion, image-preview hover and the tag editor autocomplete', { timeout: 300_000 }, async (t) => {
  const original = readFileSync(join(concept, '2.txt'), 'utf8');
  // when only this file runs, the first window runs the in-host suite: report ours, then work in a fresh window
  const r = await inHostResultsFromFirstWindow();
  const inHostFailures = ownInHostFailures(t, r, 'tag-list completion');

  // the WD14 tag list, outside the workspace, named by the setting (its folder, like a model folder)
  const lists = join(dirname(env.workspace), 'tag-lists');
  mkdirSync(lists, { recursive: true });
  copyFileSync(join(root, 'test', 'fixtures', 'wd14', 'selected_tags.csv'), join(lists, 'selected_tags.csv'));
  const settingsFile = join(env.workspace, '.vscode', 'settings.json');
  mkdirSync(dirname(settingsFile), { recursive: true });
  const settingsBefore = existsSync(settingsFile) ? readFileSync(settingsFile, 'utf8') : null;
  const settings = settingsBefore ? JSON.parse(settingsBefore || '{}') : {};
  writeFileSync(settingsFile, JSON.stringify({ ...settings, 'loraWorkbench.captions.tagList': lists }, null, 2));

  const { browser, page } = await openWorkbench();
  try {
    await openFile(page, 'dataset/img_train/5_tk girl/2.txt');
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.view-lines', { hasText: 'holding' }).waitFor({ timeout: 20_000 });

    // looking_away is not on any image of the concept: only the tag list has it
    await editor.click({ position: { x: 200, y: 10 } });
    await page.keyboard.press('End');
    await page.keyboard.type(', looking_aw', { delay: 40 });
    const row = page.locator('.suggest-widget .monaco-list-row', { hasText: 'looking_away' }).first();
    try {
      await row.waitFor({ timeout: 10_000 });
    } catch {
      await page.keyboard.press('Control+Space');
      await row.waitFor({ timeout: 20_000 });
    }
    assert.match(await row.innerText(), /list[\s\u00a0]·[\s\u00a0]general[\s\u00a0]·[\s\u00a0]61k/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'tag-completion')}`);
    await page.keyboard.press('Enter');
    await editor.locator('.view-line', { hasText: /heart-shaped_box,[\s\u00a0]looking_away$/ }).first().waitFor({ timeout: 15_000 });

    // hover a tag: its count, the tag list's entry and previews of images that carry it
    await page.keyboard.press('Escape');
    // back to the start of the long line (End scrolled it sideways)
    await page.keyboard.press('Home');
    // a tag without a diagnostic of its own, so the hover shows only ours
    const tag = editor.locator('.view-line span', { hasText: /^holding$/ }).first();
    await waitFor(async () => ((await tag.boundingBox())?.x ?? 0) > 400 || undefined, 10_000, 'holding in view');
    const box = await tag.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const hover = page.locator('.monaco-hover-content', { hasText: 'caption files of' }).first();
    await hover.waitFor({ timeout: 20_000 });
    const text = await hover.innerText();
    assert.match(text, /holding: on 7 of 14 caption files of 5_tk girl/);
    assert.match(text, /Tag list \(selected_tags\.csv\): general, 732,899 posts/);
    const images = hover.locator('img');
    await waitFor(async () => (await images.count()) === 3, 20_000, 'three previews');
    await waitFor(
      async () => (await images.evaluateAll((els) => els.every((i) => i.complete && i.naturalWidth > 0))) || undefined,
      20_000,
      'the previews to load',
    );
    assert.equal(await hover.locator('a', { hasText: /\d+\.png/ }).count(), 3, 'links to the images');
    t.diagnostic(`screenshot: ${await screenshot(page, 'tag-hover')}`);

    // the tag editor's autocomplete offers listed tags too, marked as from the list (saved first:
    // no unsaved editor left behind; the file is put back at the end)
    await page.mouse.move(1, 1);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+S');
    await waitFor(() => readFileSync(join(concept, '2.txt'), 'utf8').includes('looking_away') || undefined, 15_000, '2.txt saved');
    await runCommand(page, 'LoRA Workbench: Open in Tag Editor');
    const frame = await waitFor(async () => {
      for (const f of page.frames()) {
        if (f.isDetached()) continue;
        const label = f.locator('.toolbar .file');
        if ((await label.count().catch(() => 0)) && (await label.innerText().catch(() => '')) === '2.txt') return f;
      }
      return undefined;
    }, 60_000, 'the tag editor of 2.txt');
    const input = frame.locator('.add-input');
    await input.waitFor({ timeout: 30_000 });
    await input.click();
    // (looking_away is in the file now: another listed tag)
    await input.pressSequentially('looking_to', { delay: 40 });
    const option = frame.locator('.completions li.list', { hasText: 'looking_to_the_side' }).first();
    await option.waitFor({ timeout: 15_000 });
    assert.match(await option.innerText(), /list · general · 99,629/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'tag-completion-editor')}`);
    await input.press('Escape');
  } catch (e) {
    await screenshot(page, 'tag-completion-failure');
    throw e;
  } finally {
    await browser.close();
    writeFileSync(join(concept, '2.txt'), original);
    if (settingsBefore === null) rmSync(settingsFile, { force: true });
    else writeFileSync(settingsFile, settingsBefore);
  }
  assert.deepEqual(inHostFailures, []);
});
