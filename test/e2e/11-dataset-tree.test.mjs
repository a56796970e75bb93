// The Datasets tree on the sample workspace: image descriptions (size, bucket, tags), the
// training config shown as a dataset's origin, the image tooltip, a filter shown in the view, and
// the context-menu commands (rename with sidecars, move to trash, change repeats) on a copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clickRow, env, hoverUntil, openLoraContainer, openWorkbench, runCommand, screenshot, waitFor } from './workbench.mjs';

const NBSP = /[\s\u00a0]/;

async function contextMenu(page, row, label) {
  for (let attempt = 1; ; attempt++) {
    await page.mouse.move(1, 1);
    await page.keyboard.press('Escape');
    await row.click({ button: 'right' });
    const item = page.locator('.context-view .action-item', { hasText: label }).first();
    try {
      await item.waitFor({ timeout: 10_000 });
      await item.click();
      return;
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
}

/** A context-menu command that asks with an input box: the menu again if no input box comes. */
async function contextMenuInput(page, row, label) {
  const input = page.locator('.quick-input-widget input.input');
  for (let attempt = 1; ; attempt++) {
    await contextMenu(page, row, label);
    try {
      await input.waitFor({ timeout: 10_000 });
      return input;
    } catch (e) {
      await screenshot(page, `dataset-tree-no-input-${attempt}`);
      if (attempt >= 2) throw e;
    }
  }
}

test('the Datasets tree describes images, filters, and renames, trashes and re-repeats from its context menu', { timeout: 300_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  const copy = join(env.workspace, 'tree_e2e');
  const concept = join(copy, '2_e2e');
  try {
    const view = await openLoraContainer(page);
    const rows = view.locator('.monaco-list-row');

    // the training config that names the folders is shown as their origin
    const train = rows.filter({ hasText: 'img_train' }).first();
    await train.waitFor({ timeout: 30_000 });
    await waitFor(async () => /config_file\.toml/.test(await train.innerText()), 30_000, 'img_train with its config');
    assert.match(await train.innerText(), /1 concept · 14 images/);
    const reg = rows.filter({ hasText: 'img_reg' }).first();
    assert.match(await reg.innerText(), /2 images.*reg · config_file\.toml/);

    // images: size · bucket · tag count
    const conceptRow = rows.filter({ hasText: '5_tk girl' }).first();
    assert.match(await conceptRow.innerText(), /5× · "tk girl" · 14 images/);
    await clickRow(page, conceptRow);
    // the first 1.png under this concept (other tests leave datasets with a 1.png of their own,
    // which can come earlier in the tree): the list row right after the concept row
    // the click expands the concept, but its children are rendered a moment later (until then the
    // row after it is the next dataset); rows move while the index fills in, so a click can land on
    // another row (collapsing img_train): expand what is collapsed and look again
    let image = conceptRow;
    await waitFor(async () => {
      if ((await train.getAttribute('aria-expanded', { timeout: 1000 }).catch(() => null)) === 'false') await clickRow(page, train).catch(() => {});
      else if ((await conceptRow.getAttribute('aria-expanded', { timeout: 1000 }).catch(() => null)) === 'false') await clickRow(page, conceptRow).catch(() => {});
      const conceptIndex = Number(await conceptRow.getAttribute('data-index', { timeout: 1000 }).catch(() => 'NaN'));
      if (!Number.isFinite(conceptIndex)) return false;
      image = conceptRow.locator('xpath=..').locator(`:scope > .monaco-list-row[data-index="${conceptIndex + 1}"]`);
      return /^1\.png/.test(await image.innerText({ timeout: 1000 }).catch(() => ''));
    }, 30_000, '1.png under the concept');
    assert.match(await image.innerText(), /^1\.png/);
    await waitFor(async () => /\d+×\d+ · bucket \d+×\d+ · \d+ tags/.test(await image.innerText()), 30_000, 'the image description');
    t.diagnostic(`1.png: ${(await image.innerText()).replace(/\n/g, ' ')}`);
    // its tooltip: preview and caption
    const hover = page.locator('.workbench-hover, .monaco-hover', { hasText: 'tk, 1girl' }).first();
    await hoverUntil(page, image.locator('.label-name'), hover, { attempts: 2, timeout: 10_000, failureShot: 'dataset-tree-no-tooltip' });
    assert.match(await hover.innerText(), /1\.txt/);
    await page.waitForTimeout(800); // the preview image loads
    t.diagnostic(`screenshot: ${await screenshot(page, 'dataset-tree')}`);

    // a name filter: only matching images, the filter said in the view
    await page.mouse.move(1, 1);
    await runCommand(page, 'LoRA Workbench: Filter Images…');
    const quick = page.locator('.quick-input-widget');
    await quick.locator('.monaco-list-row', { hasText: 'By name' }).first().click();
    const input = quick.locator('input.input');
    await input.waitFor();
    await page.waitForTimeout(300);
    await input.fill('12');
    await page.keyboard.press('Enter');
    const message = view.locator('.message, .tree-explorer-viewlet-tree-view-message').filter({ hasText: 'name “12”' }).first();
    await message.waitFor({ timeout: 15_000 });
    await rows.filter({ hasText: /^12\.png/ }).first().waitFor({ timeout: 15_000 });
    await waitFor(async () => (await rows.filter({ hasText: /^3\.png/ }).count()) === 0, 15_000, '3.png to be filtered out');
    await waitFor(async () => /1 of 14 images/.test(await conceptRow.innerText()), 15_000, 'the concept to count matches');
    t.diagnostic(`screenshot: ${await screenshot(page, 'dataset-tree-filter')}`);
    await runCommand(page, 'LoRA Workbench: Clear Image Filter');
    await rows.filter({ hasText: /^3\.png/ }).first().waitFor({ timeout: 15_000 });
    await clickRow(page, conceptRow); // collapse it again

    // a copy to work on: two images with tag files
    mkdirSync(concept, { recursive: true });
    for (const n of ['1', '2']) {
      copyFileSync(join(env.workspace, 'dataset/img_train/5_tk girl', `${n}.png`), join(concept, `e${n}.png`));
      writeFileSync(join(concept, `e${n}.txt`), 'tk, 1girl, e2e');
    }
    const copyRow = rows.filter({ hasText: 'tree_e2e' }).first();
    await copyRow.waitFor({ timeout: 60_000 });
    const e2eConcept = rows.filter({ hasText: '2_e2e' }).first();
    await e2eConcept.waitFor({ timeout: 15_000 });
    await clickRow(page, e2eConcept);
    const e1 = rows.filter({ hasText: /^e1\.png/ }).first();
    await e1.waitFor({ timeout: 15_000 });

    // rename with its sidecar
    const renameInput = await contextMenuInput(page, e1, 'Rename Image with Its Sidecars');
    await renameInput.fill('renamed');
    await page.keyboard.press('Enter');
    await rows.filter({ hasText: /^renamed\.png/ }).first().waitFor({ timeout: 15_000 });
    assert.deepEqual(readdirSync(concept).sort(), ['e2.png', 'e2.txt', 'renamed.png', 'renamed.txt']);

    // move to the trash, after confirming
    await contextMenu(page, rows.filter({ hasText: /^renamed\.png/ }).first(), 'Move Image and Sidecars to Trash');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    assert.match(await dialog.innerText(), /renamed\.png and renamed\.txt/);
    await dialog.locator('.monaco-button', { hasText: 'Move to Trash' }).click();
    await waitFor(() => !existsSync(join(concept, 'renamed.png')) && !existsSync(join(concept, 'renamed.txt')), 15_000, 'the files to go');
    await rows.filter({ hasText: /^renamed\.png/ }).first().waitFor({ state: 'detached', timeout: 15_000 });

    // change repeats: the folder is renamed
    const repeatsInput = await contextMenuInput(page, e2eConcept, 'Change Repeats');
    await repeatsInput.fill('6');
    await page.keyboard.press('Enter');
    const renamedConcept = rows.filter({ hasText: '6_e2e' }).first();
    await renamedConcept.waitFor({ timeout: 15_000 });
    assert.match((await renamedConcept.innerText()).replace(NBSP, ' '), /6× · "e2e" · 1 image/);
    assert.ok(existsSync(join(copy, '6_e2e', 'e2.png')));
    t.diagnostic(`screenshot: ${await screenshot(page, 'dataset-tree-commands')}`);

    // a new concept folder shows at once, empty, with the reason sd-scripts leaves it out
    const tokensInput = await contextMenuInput(page, copyRow, 'New Concept Folder');
    await tokensInput.fill('new dog');
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget', { hasText: 'repeats' }).first().waitFor({ timeout: 10_000 });
    await tokensInput.fill('3');
    await page.keyboard.press('Enter');
    const emptyConcept = rows.filter({ hasText: '3_new dog' }).first();
    await emptyConcept.waitFor({ timeout: 15_000 });
    assert.ok(existsSync(join(copy, '3_new dog')));
    assert.match((await emptyConcept.innerText()).replace(/[\s\u00a0]+/g, ' '), /3× · "new dog" · 0 images · skipped/);
    await page.mouse.move(700, 450);
    t.diagnostic(`screenshot: ${await screenshot(page, 'dataset-tree-empty-concept')}`);
  } catch (e) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'dataset-tree-failure')}`);
    throw e;
  } finally {
    rmSync(copy, { recursive: true, force: true });
    await browser.close();
  }
});
