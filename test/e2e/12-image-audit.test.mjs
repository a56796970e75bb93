// The image audit in the Problems panel on a generated bad-image folder, and the Buckets view on
// the sample dataset, in a real VS Code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { clickRow, env, hoverUntil, openLoraContainer, openWorkbench, runCommand, screenshot, waitFor } from './workbench.mjs';
import { makeBadImageFolder } from '../fixtures/audit-images/badFolder.mjs';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'audit-images');

/** Hides the bottom panel if it is open (the in-host suite leaves a terminal there). */
async function hidePanel(page) {
  if (await page.locator('.part.panel').isVisible().catch(() => false)) await page.keyboard.press('Control+J');
}

/** Drags the side bar's right edge by `dx` pixels. */
async function widenSidebar(page, dx) {
  const box = await page.locator('.part.sidebar').boundingBox();
  if (!box) return;
  const x = box.x + box.width + 1;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx / 2, y, { steps: 4 });
  await page.mouse.move(x + dx, y, { steps: 4 });
  await page.mouse.up();
}

/**
 * Shows the Buckets view wider, with the Panel hidden and the Datasets view folded for room;
 * `restore()` unfolds the Datasets view and narrows the side bar again for the tests after it.
 */
async function showBucketsPane(page, widen) {
  const view = await openLoraContainer(page);
  await hidePanel(page);
  await widenSidebar(page, widen);
  const datasetsHeader = view.locator('.pane-header', { hasText: /datasets/i }).first();
  const header = view.locator('.pane-header', { hasText: /buckets/i }).first();
  await header.waitFor({ timeout: 30_000 });
  if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
  if ((await datasetsHeader.getAttribute('aria-expanded')) === 'true') await datasetsHeader.click();
  const pane = view.locator('.pane', { has: page.locator('.pane-header', { hasText: /buckets/i }) }).first();
  return {
    pane,
    rows: pane.locator('.monaco-list-row'),
    restore: async () => {
      if ((await datasetsHeader.getAttribute('aria-expanded').catch(() => 'true')) !== 'true') await datasetsHeader.click().catch(() => {});
      await widenSidebar(page, -widen).catch(() => {});
    },
  };
}

test('the in-host image-audit and Buckets tests passed', { timeout: 320_000 }, async (t) => {
  const { browser } = await openWorkbench();
  await browser.close();
  await waitFor(() => existsSync(env.results), 240_000, 'the in-host suite results');
  const r = JSON.parse(readFileSync(env.results, 'utf8'));
  const ours = r.tests.filter((x) => /^(image audit|Buckets view) /.test(x.fullTitle));
  for (const x of ours) t.diagnostic(`${x.state} ${x.fullTitle}${x.error ? `: ${x.error}` : ''}`);
  // image audit (4), Buckets view (1), with a --dataset_config (1), with fine-tuning datasets (3)
  assert.equal(ours.length, 9);
  assert.deepEqual(ours.filter((x) => x.state !== 'passed').map((x) => `${x.fullTitle}: ${x.error}`), []);
});

test('the Buckets view shows the sample dataset as its training config buckets it', { timeout: 180_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  let buckets;
  try {
    buckets = await showBucketsPane(page, 260);
    const { pane, rows } = buckets;
    const run = rows.filter({ hasText: 'config_file.toml' }).first();
    await run.waitFor({ timeout: 60_000 });
    // the sizes come from the image audit, which may still be reading the workspace's images
    await waitFor(async () => /35 steps\/epoch · 1024×1024 · bucketing off · batch 4/.test(await run.innerText()), 60_000, 'the bucket run of config_file.toml');
    const bucket = rows.filter({ hasText: '1024×1024' }).filter({ hasText: 'images' }).first();
    await bucket.waitFor({ timeout: 30_000 });
    assert.match(await bucket.innerText(), /16 images · 140 with repeats · 35 batches/);
    if ((await bucket.getAttribute('aria-expanded')) !== 'true') await clickRow(page, bucket);
    const file = rows.filter({ hasText: '1.png' }).first();
    await file.waitFor({ timeout: 15_000 });
    assert.match(await file.innerText(), /512×704 → 1024×1408 · ×5/);
    const title = await pane.locator('.pane-header').first().innerText();
    assert.match(title, /1024×1024 · bucketing off · batch 4 \(config_file\.toml\)/);
    await page.mouse.move(700, 450);
    t.diagnostic(`screenshot: ${await screenshot(page, 'buckets-view')}`);
  } catch (e) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'buckets-view-failure')}`);
    throw e;
  } finally {
    await buckets?.restore();
    await browser.close();
  }
});

test('the Buckets view buckets each dataset of a dataset config with its own settings', { timeout: 180_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  const dir = join(env.workspace, 'dsconf-e2e');
  const sample = join(env.workspace, 'dataset', 'img_train', '5_tk girl');
  let buckets;
  try {
    // two datasets: 1024² with buckets on and batch 2; 512² with bucketing off (the default);
    // one subset folder without images
    for (const [folder, names] of [['a', ['1', '2', '3']], ['b', ['4', '5']], ['1_empty', []]]) {
      mkdirSync(join(dir, folder), { recursive: true });
      for (const n of names) copyFileSync(join(sample, `${n}.png`), join(dir, folder, `${n}.png`));
    }
    const d = (f) => join(dir, f).replace(/\\/g, '/');
    writeFileSync(
      join(dir, 'datasets.toml'),
      `[[datasets]]\nresolution = 1024\nbatch_size = 2\nenable_bucket = true\n\n  [[datasets.subsets]]\n  image_dir = '${d('a')}'\n  num_repeats = 2\n\n` +
        `[[datasets]]\nresolution = 512\n\n  [[datasets.subsets]]\n  image_dir = '${d('b')}'\n\n  [[datasets.subsets]]\n  image_dir = '${d('1_empty')}'\n`,
    );
    buckets = await showBucketsPane(page, 260);
    const { rows } = buckets;
    const run = rows.filter({ hasText: 'dsconf-e2e/datasets.toml' }).first();
    // 512×704 → 768×1024 with buckets: 3 images × 2 = 6 samples, 3 batches; 2 images at 512×512, 2 batches
    await waitFor(async () => /5 steps\/epoch · 2 datasets/.test(((await run.innerText().catch(() => '')) || '').replace(/\u00a0/g, ' ')), 90_000, 'the dataset config run');
    const first = rows.filter({ hasText: 'datasets[0]' }).first();
    await first.waitFor({ timeout: 15_000 });
    assert.match((await first.innerText()).replace(/\u00a0/g, ' '), /1024×1024 · buckets 256–1024 \/64 · batch 2 · 3 images · 3 batches/);
    const second = rows.filter({ hasText: 'datasets[1]' }).first();
    assert.match((await second.innerText()).replace(/\u00a0/g, ' '), /512×512 · bucketing off · batch 1 · 2 images · 2 batches/);
    await rows.filter({ hasText: /subsets\[1\] \(1_empty\) is left out/ }).first().waitFor({ timeout: 15_000 });
    assert.match((await rows.filter({ hasText: '768×1024' }).first().innerText()).replace(/\u00a0/g, ' '), /3 images · 6 with repeats · 3 batches/);
    await page.mouse.move(900, 450);
    t.diagnostic(`screenshot: ${await screenshot(page, 'buckets-dataset-config')}`);
  } catch (e) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'buckets-dataset-config-failure')}`);
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await buckets?.restore();
    await browser.close();
  }
});

test('the Buckets view buckets a fine-tuning dataset and lists the metadata keys it leaves out', { timeout: 180_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  const dir = join(env.workspace, 'ft-e2e');
  const sample = join(env.workspace, 'dataset', 'img_train', '5_tk girl');
  let buckets;
  try {
    // a DreamBooth dataset (two 512×704 images, batch 2) and a fine-tuning one whose metadata has
    // a full-path key (size read from the image), a name with image_size 1920×1080, a name whose
    // size comes from its latent cache (800×600), a bare stem and a missing file
    mkdirSync(join(dir, 'db'), { recursive: true });
    mkdirSync(join(dir, 'ft'), { recursive: true });
    for (const n of ['4', '5']) copyFileSync(join(sample, `${n}.png`), join(dir, 'db', `${n}.png`));
    for (const n of ['1', '2', '3', '6']) copyFileSync(join(sample, `${n}.png`), join(dir, 'ft', n === '6' ? 'stem.png' : `${n}.png`));
    writeFileSync(join(dir, 'ft', '3_0800x0600_sdxl.npz'), 'only the name counts');
    writeFileSync(
      join(dir, 'meta_lat.json'),
      JSON.stringify({ [join(dir, 'ft', '1.png')]: { caption: 'one' }, '2.png': { image_size: [1920, 1080] }, '3.png': {}, stem: {}, 'gone.png': {} }, null, 2),
    );
    const d = (f) => join(dir, f).replace(/\\/g, '/');
    writeFileSync(
      join(dir, 'datasets.toml'),
      `[general]\nresolution = 1024\nenable_bucket = true\n\n[[datasets]]\nbatch_size = 2\n  [[datasets.subsets]]\n  image_dir = '${d('db')}'\n\n` +
        `[[datasets]]\n  [[datasets.subsets]]\n  metadata_file = '${d('meta_lat.json')}'\n  image_dir = '${d('ft')}'\n  num_repeats = 2\n`,
    );
    buckets = await showBucketsPane(page, 360);
    const { rows } = buckets;
    const text = async (row) => ((await row.innerText().catch(() => '')) || '').replace(/\u00a0/g, ' ');
    const run = rows.filter({ hasText: 'ft-e2e/datasets.toml' }).first();
    // DreamBooth: 1 batch; fine-tuning: 768×1024, 1024×576 and 1024×768, 1 image × 2 repeats each, batch 1: 6 batches
    await waitFor(async () => /7 steps\/epoch · 2 datasets/.test(await text(run)), 90_000, 'the dataset config run');
    const ft = rows.filter({ hasText: 'datasets[1]' }).first();
    assert.match(await text(ft), /1024×1024 · buckets 256–1024 \/64 · batch 1 · 3 images · 6 batches/);
    const left = rows.filter({ hasText: /meta_lat\.json: 2 metadata keys left out/ }).first();
    await left.waitFor({ timeout: 15_000 });
    assert.match(await text(left), /1 bare stem, 1 with no file/);
    assert.match(await text(rows.filter({ hasText: /keys are images/ }).first()), /3 of 5 keys are images · sizes: 1 image_size, 1 \.npz name, 1 read/);
    assert.match(await text(rows.filter({ hasText: '1024×576' }).first()), /1 image · 2 with repeats · 2 batches/);
    // the tooltip lists the keys left out
    const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: /stem: bare stem/ }).first();
    await hoverUntil(page, left.locator('.label-name'), hover, { failureShot: 'buckets-fine-tuning-no-tooltip' });
    assert.match((await hover.innerText()).replace(/\u00a0/g, ' '), /gone\.png: no such file/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'buckets-fine-tuning')}`);

    // the Datasets view counts what the fine-tuning subset trains: the 3 images its keys name, and
    // stem.png (named only by a bare stem) as the folder's one unused image
    await page.mouse.move(5, 5);
    const view = await openLoraContainer(page);
    const datasetsHeader = view.locator('.pane-header', { hasText: /datasets/i }).first();
    if ((await datasetsHeader.getAttribute('aria-expanded')) !== 'true') await datasetsHeader.click();
    const datasets = view.locator('.pane', { has: page.locator('.pane-header', { hasText: /datasets/i }) }).first().locator('.monaco-list-row');
    const ftRow = datasets.filter({ hasText: /in the metadata/ }).first();
    let last = '';
    await waitFor(async () => /^ft\s*2× · .*3 images in the metadata · 1 in the folder unused/s.test((last = await text(ftRow))), 60_000, 'the fine-tuning subset row').catch((e) => {
      throw new Error(`${e.message}; its text: ${JSON.stringify(last)}`);
    });
    assert.match(await text(datasets.filter({ hasText: /datasets\.toml · datasets\[1\]/ }).first()), /fine-tuning · 1 subset · 3 images/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'datasets-fine-tuning')}`);
  } catch (e) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'buckets-fine-tuning-failure')}`);
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await buckets?.restore();
    await browser.close();
  }
});

test('the Problems panel lists the audit problems of a bad-image folder', { timeout: 240_000 }, async (t) => {
  const { browser, page } = await openWorkbench();
  const parent = join(env.workspace, 'audit-e2e');
  try {
    // the window may restore the Explorer, where nothing activates the extension (once the
    // Problems panel stayed empty for that reason): open our views first
    await openLoraContainer(page);
    // created after the in-host suite has finished with the workspace; the file watcher finds it
    makeBadImageFolder(parent, FIXTURES);
    await page.keyboard.press('Control+Shift+M');
    const filter = page.getByPlaceholder(/^Filter \(e\.g\./).first();
    await filter.waitFor({ timeout: 15_000 });
    const markers = page.locator('.markers-panel .monaco-list-row');
    // one distinctive message at a time, so that the row is in view
    const checks = [
      ['EXIF orientation 6', /rotated\.jpg|lwb\.exifOrientation/],
      ['The file is empty (0 bytes)', /lwb\.emptyFile/],
      ['not an image Pillow reads', /lwb\.notAnImage/],
      ['looks cut short', /lwb\.truncated/],
      ['CMYK JPEG', /lwb\.cmyk/],
      ['The content is PNG but the name ends in .jpg', /lwb\.extensionMismatch/],
      ['Same content as dup', /lwb\.duplicate/],
      ['No image with this name', /lwb\.captionWithoutImage/],
    ];
    for (const [text, code] of checks) {
      const row = markers.filter({ hasText: text }).first();
      // the panel may re-render while the audit publishes (and drop what was typed): type again
      await waitFor(async () => {
        if ((await filter.inputValue().catch(() => '')) !== text) await filter.fill(text).catch(() => {});
        return row.isVisible().catch(() => false);
      }, 90_000, `the problem "${text}"`);
      assert.match(await row.innerText(), code, text);
    }
    // the whole folder, errors first
    await filter.fill('**/audit-e2e/**');
    await markers.filter({ hasText: '0 empty.png' }).first().waitFor({ timeout: 15_000 });
    await markers.filter({ hasText: 'not an image.png' }).first().waitFor({ timeout: 15_000 });
    await page.mouse.move(700, 200);
    t.diagnostic(`screenshot: ${await screenshot(page, 'image-audit-problems')}`);

    // the duplicate's fix: Fix Image Problem… → the duplicate → "Move … to the trash" → a modal
    // dialog → confirmed: the image and its caption are gone (to the trash), so is the problem
    await filter.fill('Same content as dup');
    await markers.filter({ hasText: 'Same content as dup' }).first().waitFor({ timeout: 30_000 });
    await runCommand(page, 'LoRA Workbench: Fix Image Problem');
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: 15_000 });
    await input.fill('dup');
    const candidate = page.locator('.quick-input-list .monaco-list-row', { hasText: /Move dup [ab]\.png, dup [ab]\.txt to the trash/ }).first();
    await candidate.waitFor({ timeout: 15_000 });
    const dupName = /Move (dup [ab]\.png)/.exec(await candidate.innerText())?.[1];
    assert.ok(dupName, 'the duplicate offered for the trash');
    const kept = dupName === 'dup a.png' ? 'dup b.png' : 'dup a.png';
    await candidate.click();
    const choice = page.locator('.quick-input-list .monaco-list-row', { hasText: 'to the trash' }).first();
    await choice.waitFor({ timeout: 15_000 });
    await choice.click();
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    const said = (await dialog.innerText()).replace(/\u00a0/g, ' ');
    assert.match(said, /Move 2 file\(s\) to the trash\?/);
    assert.ok(said.includes(dupName) && said.includes(dupName.replace('.png', '.txt')), said);
    t.diagnostic(`screenshot: ${await screenshot(page, 'image-audit-trash')}`);
    await dialog.locator('.monaco-button', { hasText: 'Move to Trash' }).click();
    const folder = join(parent, '3_bad images');
    await waitFor(() => !existsSync(join(folder, dupName)) && !existsSync(join(folder, dupName.replace('.png', '.txt'))), 20_000, 'the duplicate and its caption to go');
    assert.ok(existsSync(join(folder, kept)), `${kept} stays`);
    // in the trash (code-server has no trash of its own: the freedesktop one), restorable
    const trashInfo = join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'Trash', 'info');
    const infos = readdirSync(trashInfo).filter((n) => n.endsWith('.trashinfo'));
    const ours = infos.filter((n) => readFileSync(join(trashInfo, n), 'utf8').includes(encodeURI(join(folder, dupName))));
    assert.equal(ours.length >= 1, true, `a .trashinfo for ${dupName} in ${trashInfo}`);
    // with the filter typed (again, if the panel dropped it), no duplicate problem is left
    await waitFor(async () => {
      if ((await filter.inputValue().catch(() => '')) !== 'Same content as dup') await filter.fill('Same content as dup').catch(() => {});
      const none = await page.locator('.markers-panel', { hasText: /No results found with provided filter criteria/ }).first().isVisible().catch(() => false);
      return none && (await markers.filter({ hasText: 'Same content as dup' }).count()) === 0 && (await filter.inputValue().catch(() => '')) === 'Same content as dup';
    }, 30_000, 'the duplicate problems to go');
    t.diagnostic(`screenshot: ${await screenshot(page, 'image-audit-trash-done')}`);
    await filter.fill('');
  } catch (e) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'image-audit-problems-failure')}`);
    throw e;
  } finally {
    rmSync(parent, { recursive: true, force: true });
    await browser.close();
  }
});
