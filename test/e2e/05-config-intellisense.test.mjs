// Training-config IntelliSense in a real editor: a diagnostic and its quick fix, completion, hover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openWorkbench, screenshot } from './workbench.mjs';

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
  const name = parts[parts.length - 1];
  await page.locator('.tabs-container .tab', { hasText: name }).first().waitFor({ timeout: 20_000 });
}

test('a training config gets diagnostics, quick fixes, completion and hover', { timeout: 300_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  try {
    await openFile(page, 'config/config_file.toml');
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.view-lines', { hasText: 'sdxl_arguments' }).waitFor({ timeout: 20_000 });

    // the placeholder model path is reported (a squiggle, counted in the status bar)
    await page.locator('.monaco-editor .squiggly-warning').first().waitFor({ timeout: 60_000 });

    // type an option with a typo at the end of the file
    await editor.click({ position: { x: 300, y: 100 } });
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('netwrk_dim = 8', { delay: 10 });
    // the line just typed gets its own squiggle
    await editor.locator('.squiggly-warning, .squiggly-error').first().waitFor({ timeout: 30_000 });

    // the Problems panel names it, with the "did you mean"
    await page.keyboard.press('Control+Shift+M');
    const problem = page.locator('.markers-panel .monaco-list-row', { hasText: 'netwrk_dim' }).first();
    await problem.waitFor({ timeout: 30_000 });
    assert.match(await problem.innerText(), /Did you mean `?network_dim`?/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'config-diagnostics')}`);

    // quick fix: cursor on the key, Ctrl+. , pick the rename
    await page.keyboard.press('Escape');
    await editor.click({ position: { x: 300, y: 100 } });
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Home');
    await page.keyboard.press('Control+.');
    const fix = page.locator('.action-widget .monaco-list-row, .context-view .action-item', { hasText: 'Rename to network_dim' }).first();
    await fix.waitFor({ timeout: 20_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'config-quick-fix')}`);
    await page.keyboard.press('Enter'); // the only fix is focused in the menu
    await editor.locator('.view-line', { hasText: /^network_dim[\s\u00a0]=[\s\u00a0]8$/ }).first().waitFor({ timeout: 15_000 });

    // completion of a value with a fixed set of choices
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('optimizer_type = ', { delay: 10 });
    await page.keyboard.press('Control+Space');
    const suggestion = page.locator('.suggest-widget .monaco-list-row', { hasText: 'AdamW8bit' }).first();
    await suggestion.waitFor({ timeout: 20_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'config-completion')}`);
    await suggestion.hover();
    await suggestion.click({ force: true });
    await editor.locator('.view-line', { hasText: /optimizer_type[\s\u00a0]=[\s\u00a0]"AdamW8bit"/ }).first().waitFor({ timeout: 15_000 });

    // hover on a key explains the option
    await page.keyboard.press('Escape');
    const key = editor.locator('.view-line span', { hasText: /^network_alpha$/ }).first();
    await key.hover();
    const hover = page.locator('.monaco-hover-content', { hasText: 'network_alpha' }).first();
    await hover.waitFor({ timeout: 20_000 });
    assert.match(await hover.innerText(), /default|Default|number|integer|float/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'config-hover')}`);
  } catch (e) {
    await screenshot(page, 'config-intellisense-failure');
    throw e;
  } finally {
    await browser.close();
  }
});
