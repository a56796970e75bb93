// "Caption Images with BLIP…" from the command palette against a stand-in sd-scripts folder
// (test/fixtures/fake-sd-scripts/standin.py as finetune/make_captions.py, run by python3): the
// task's terminal shows the script's output, and the new .caption files show in the Datasets view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clickRow, env, openLoraContainer, openWorkbench, runCommand, screenshot, waitFor } from './workbench.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STANDIN = join(root, 'test', 'fixtures', 'fake-sd-scripts', 'standin.py');
const SAMPLE_IMAGES = join(root, 'sample', 'dataset', 'img_train', '5_tk girl');

function prepareWorkspace() {
  const ws = env.workspace;
  const sd = join(ws, '.sd-scripts-e2e');
  mkdirSync(join(sd, 'finetune'), { recursive: true });
  copyFileSync(STANDIN, join(sd, 'finetune', 'make_captions.py'));
  const photos = join(ws, 'captioning_e2e', 'blip photos');
  rmSync(join(ws, 'captioning_e2e'), { recursive: true, force: true });
  mkdirSync(photos, { recursive: true });
  for (const n of ['1.png', '2.png']) copyFileSync(join(SAMPLE_IMAGES, n), join(photos, n));
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  const file = join(ws, '.vscode', 'settings.json');
  let settings = {};
  try {
    settings = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    /* none yet */
  }
  Object.assign(settings, {
    'loraWorkbench.training.sdScriptsFolder': '.sd-scripts-e2e',
    'loraWorkbench.training.python': existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3',
    // slow enough to watch, fast enough for the test
    'loraWorkbench.training.env': { STANDIN_DELAY: '0.5' },
    // the DOM renderer keeps the terminal's text readable for the test
    'terminal.integrated.gpuAcceleration': 'off',
  });
  writeFileSync(file, JSON.stringify(settings, null, 2));
  return photos;
}

test('"Caption Images with BLIP…" runs make_captions.py as a task: output in the terminal, .caption files in the Datasets view', { timeout: 600_000 }, async (t) => {
  assert.ok(existsSync(STANDIN));
  const { browser, page } = await openWorkbench();
  try {
    const r = JSON.parse(readFileSync(env.results, 'utf8'));
    if (r.loadError) console.log(`in-host suite did not load: ${r.loadError}`);
    else {
      console.log(`in-host suite: ${r.passed} passed, ${r.failed} failed, ${r.pending} pending (seen from the captioning test)`);
      for (const x of r.tests.filter((x) => x.state === 'failed' || /sd-scripts/.test(x.fullTitle))) console.log(`  ${x.state} ${x.fullTitle} (${x.durationMs} ms)${x.error ? `\n${x.error}` : ''}`);
    }
    // the in-host suite (which changes these settings too) has finished: now set ours
    const photos = prepareWorkspace();
    await runCommand(page, 'Notifications: Clear All Notifications');
    const view = await openLoraContainer(page);
    const group = view.locator('.monaco-list-row', { hasText: 'blip photos' }).first();
    await waitFor(async () => {
      if (await group.isVisible().catch(() => false)) return true;
      await runCommand(page, 'LoRA Workbench: Refresh Datasets').catch(() => {});
      return false;
    }, 60_000, 'the new image folder in the Datasets view');
    assert.match(await group.innerText(), /2 images/);

    await runCommand(page, 'LoRA Workbench: Caption Images with BLIP…');
    const quick = page.locator('.quick-input-widget');
    const pick = quick.locator('.monaco-list-row', { hasText: 'blip photos' }).first();
    await pick.waitFor({ timeout: 30_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'captioning-pick-folder')}`);
    await pick.click();

    // the task's terminal shows the command line and the script's output as it comes (the text of
    // every terminal's rows: the in-host suite leaves other task terminals behind)
    const terminalText = async () =>
      (await page.evaluate(() => [...document.querySelectorAll('.xterm-rows')].map((e) => e.textContent ?? '').join('\n')).catch(() => '')).replace(/\u00a0/g, ' ');
    await waitFor(async () => /blip photos/.test(await terminalText()) && /2\/2 2\.png: a stand-in BLIP caption of 2/.test(await terminalText()), 90_000, 'the script output in the terminal');
    const text = await terminalText();
    assert.match(text, /make_captions\.py/);
    assert.match(text, /1\/2 1\.png: a stand-in BLIP caption of 1/);
    assert.equal(readFileSync(join(photos, '1.caption'), 'utf8'), 'a stand-in BLIP caption of 1\n');

    // the notification at the end, and the .caption sidecars in the tree
    const done = page.locator('.notifications-toasts .notification-toast', { hasText: /BLIP captions: blip photos finished: 2 \.caption files written/ }).first();
    await done.waitFor({ timeout: 60_000 });
    const image = view.locator('.monaco-list-row', { hasText: '1.png' }).filter({ hasText: '.caption' }).first();
    await waitFor(async () => {
      if (await image.isVisible().catch(() => false)) return true;
      if (!(await view.locator('.monaco-list-row', { hasText: '1.png' }).first().isVisible().catch(() => false))) await clickRow(page, group).catch(() => {});
      return false;
    }, 60_000, 'the image row with its new .caption file');
    await page.mouse.move(1, 1);
    const file = await screenshot(page, 'captioning-task');
    t.diagnostic(`screenshot: ${file}`);
  } catch (e) {
    await screenshot(page, 'captioning-task-failure').catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
});
