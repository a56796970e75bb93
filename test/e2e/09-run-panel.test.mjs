// The training run panel: a stand-in training task started from "Tasks: Run Task" opens the panel
// beside it; the charts fill while the trainer writes, then the samples grid (click to enlarge),
// the checkpoints with their metadata, the saved states and the LoRA test grid show; the panel
// comes back after a window reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { env, openWorkbench, runCommand, screenshot, waitFor } from './workbench.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FAKE_TRAINER = join(root, 'test', 'fixtures', 'fake-trainer.mjs');

/** a small solid PNG for the LoRA test grid */
function png(r, g, b) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    return c >>> 0;
  });
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    let c = 0xffffffff;
    for (const x of body) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE((c ^ 0xffffffff) >>> 0, 8 + data.length);
    return out;
  };
  const size = 32;
  const raw = Buffer.alloc((size * 3 + 1) * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) raw.set([r, g, b], y * (size * 3 + 1) + 1 + x * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function prepareWorkspace() {
  const ws = env.workspace;
  mkdirSync(join(ws, '.sd-scripts'), { recursive: true });
  writeFileSync(join(ws, '.sd-scripts', 'sdxl_train_network.py'), '# stand-in\n');
  const dir = join(ws, 'train_panel');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), '');
  writeFileSync(join(dir, 'prompts.txt'), 'tk girl, smile, upper body --d 42\ntk girl, beach, full body --d 7\ntk girl, night city --d 3\n');
  writeFileSync(
    join(dir, 'tk_panel.toml'),
    `[model_arguments]
pretrained_model_name_or_path = "${dir}/model.safetensors"
[dataset_arguments]
train_data_dir = "${ws}/dataset/img_train"
caption_extension = ".txt"
resolution = "1024,1024"
[training_arguments]
output_dir = "${dir}/output"
output_name = "tk_panel"
max_train_epochs = 4
save_every_n_epochs = 1
save_state = true
sample_every_n_epochs = 1
sample_prompts = "${dir}/prompts.txt"
mixed_precision = "bf16"
fake_batches = 15
fake_step_ms = 250
[logging_arguments]
log_with = "tensorboard"
logging_dir = "${dir}/logs"
log_prefix = "tk_panel_"
[additional_network_arguments]
network_module = "networks.lora"
network_dim = 8
network_alpha = 4
`,
  );
  // results of "Test the LoRA" (another task writes them; here they are given)
  const lt = join(dir, 'output', 'lora_test');
  mkdirSync(lt, { recursive: true });
  const strengths = [0.4, 0.7, 1];
  const images = [];
  for (let p = 0; p < 2; p++) {
    for (const s of strengths) {
      const file = `final_p${p}_s${s}.png`;
      writeFileSync(join(lt, file), png(Math.round(60 + 190 * s), p ? 120 : 60, p ? 200 : 90));
      images.push({ prompt: p, strength: s, epoch: null, file });
    }
  }
  writeFileSync(join(lt, 'lora_test.json'), JSON.stringify({ version: 1, prompts: ['tk girl, smile, upper body', 'tk girl, beach, full body'], strengths, epochs: [null], images }));

  mkdirSync(join(ws, '.vscode'), { recursive: true });
  const file = join(ws, '.vscode', 'settings.json');
  let settings = {};
  try {
    settings = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    /* none yet */
  }
  Object.assign(settings, {
    'loraWorkbench.training.sdScriptsFolder': '.sd-scripts',
    'loraWorkbench.training.accelerate': [process.execPath, FAKE_TRAINER],
    'loraWorkbench.training.env': { ELECTRON_RUN_AS_NODE: '1' },
  });
  writeFileSync(file, JSON.stringify(settings, null, 2));
}

/** the run panel's webview content frame */
function panelFrame(page) {
  return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
}

test('the run panel follows a training task: charts, samples, checkpoints, states; restored after reload', { timeout: 900_000 }, async (t) => {
  assert.ok(existsSync(FAKE_TRAINER));
  prepareWorkspace();
  const { browser, page, consoleErrors } = await openWorkbench();
  try {
    // this window may be the one the in-host suite ran in: report its run panel tests
    const r = JSON.parse(readFileSync(env.results, 'utf8'));
    if (r.loadError) t.diagnostic(`in-host suite did not load: ${r.loadError}`);
    else {
      t.diagnostic(`in-host suite: ${r.passed} passed, ${r.failed} failed, ${r.pending} pending`);
      for (const x of r.tests.filter((x) => x.state === 'failed' || /run panel/.test(x.fullTitle))) t.diagnostic(`  ${x.state} ${x.fullTitle} (${x.durationMs} ms)${x.error ? `\n${x.error}` : ''}`);
      t.diagnostic(`in-host metrics: ${JSON.stringify(r.metrics)}`);
    }
    await runCommand(page, 'Notifications: Clear All Notifications');
    const quick = page.locator('.quick-input-widget');
    const typeRow = quick.locator('.monaco-list-row', { hasText: 'loraWorkbench.train' }).filter({ hasNotText: 'LoRA Workbench:' }).first();
    for (let attempt = 1; ; attempt++) {
      await runCommand(page, 'Tasks: Run Task');
      // recently used tasks can push the task types out of view: filter for ours
      // the task quick pick opens only when every task provider has answered (the palette's
      // input is hidden meanwhile): wait for it, then type
      const input = page.locator('.quick-input-widget input.input');
      await input.waitFor({ state: 'visible', timeout: 60_000 }).catch(() => {});
      await input.fill('loraWorkbench.train', { timeout: 30_000 }).catch(() => {});
      if (await typeRow.waitFor({ timeout: 60_000 }).then(() => true, () => false)) break;
      if (attempt >= 2) throw new Error('"Tasks: Run Task" did not list loraWorkbench.train');
      await page.keyboard.press('Escape');
    }
    await typeRow.click();
    const taskRow = quick.locator('.monaco-list-row', { hasText: 'train_panel/tk_panel.toml' }).first();
    await taskRow.waitFor({ timeout: 60_000 });
    await taskRow.click();
    const noScan = quick.locator('.monaco-list-row', { hasText: /Continue without scanning/ }).first();
    if (await noScan.waitFor({ timeout: 5_000 }).then(() => true, () => false)) await noScan.click();

    // the panel opens beside the terminal by itself
    await page.locator('.tabs-container .tab', { hasText: 'Run: tk_panel' }).first().waitFor({ timeout: 60_000 });
    const frame = panelFrame(page);
    await frame.locator('main[aria-busy="false"]').waitFor({ timeout: 60_000 });
    // while the trainer writes: the progress line and a loss chart with points that grow
    await frame.locator('.progress', { hasText: /running/ }).waitFor({ timeout: 60_000 });
    const loss = frame.locator('.chart[data-group="loss"]');
    await loss.waitFor({ timeout: 60_000 });
    const first = Number(await loss.getAttribute('data-points'));
    await waitFor(async () => Number(await loss.getAttribute('data-points')) > first, 60_000, 'more points on the loss chart while training');
    t.diagnostic(`loss chart points: ${first} → ${await loss.getAttribute('data-points')} while training`);
    await screenshot(page, 'run-panel-live');

    // the end of the run: 60 steps, every chart, samples, checkpoints and states
    await frame.locator('.progress', { hasText: /finished/ }).waitFor({ timeout: 240_000 });
    await waitFor(async () => Number(await loss.getAttribute('data-points')) === 120, 30_000, 'all 60 steps × 2 loss tags on the chart');
    for (const g of ['loss', 'lossEpoch', 'lr']) assert.ok(Number(await frame.locator(`.chart[data-group="${g}"]`).getAttribute('data-points')) > 0, `chart ${g}`);
    assert.ok((await frame.locator('.chart canvas').count()) >= 3, 'uPlot drew on canvases');
    const latency = await frame.locator('body').getAttribute('data-last-draw-latency-ms');
    t.diagnostic(`last append: host post → drawn in the webview ${latency} ms`);
    await waitFor(async () => (await frame.locator('.samples table.grid img').count()) === 12, 30_000, '3 prompts × 4 epochs of samples');
    await waitFor(async () => (await frame.locator('.ckpt').count()) === 4, 30_000, '4 checkpoints');
    assert.equal(await frame.locator('.state vscode-button').count(), 3, 'a resume button per saved state');
    assert.equal(await frame.locator('.loraTest table.grid img').count(), 6, 'the LoRA test grid');
    assert.match(await frame.locator('.samples table.grid th.prompt').first().innerText(), /#0 tk girl, smile, upper body/);
    await runCommand(page, 'Notifications: Clear All Notifications');
    // room for the screenshots: one editor group, no terminal (cosmetic: go on if a title differs)
    for (const title of ['View: Single Column Editor Layout', 'View: Close Panel']) await runCommand(page, title).catch(() => {});
    await page.keyboard.press('Escape');
    await page.locator('.tabs-container .tab', { hasText: 'Run: tk_panel' }).first().click();
    await frame.locator('.chart[data-group="loss"][data-points="120"]').waitFor({ timeout: 60_000 });
    await frame.locator('.samples table.grid img').nth(11).waitFor({ timeout: 30_000 });
    await frame.locator('h1').click();
    t.diagnostic(`screenshot: ${await screenshot(page, 'run-panel')}`);

    // checkpoint metadata: expand the first one
    const ck = frame.locator('.ckpt', { hasText: 'tk_panel-000001.safetensors' });
    await ck.locator('vscode-collapsible').click({ position: { x: 40, y: 10 } });
    await ck.locator('table.kv', { hasText: 'Dim / alpha' }).first().waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await ck.locator('table.kv').first().innerText(), /8 \/ 4/);
    // samples: scroll to them, click one to enlarge
    await frame.locator('.samples').scrollIntoViewIfNeeded();
    t.diagnostic(`screenshot: ${await screenshot(page, 'run-panel-samples')}`);
    await frame.locator('.samples table.grid img').first().click();
    await frame.locator('.lightbox:not([hidden]) img').waitFor({ timeout: 10_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'run-panel-sample-enlarged')}`);
    await frame.locator('.lightbox').click();

    const csp = consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e));
    assert.deepEqual(csp, [], 'no CSP violation');

    // a window reload restores the panel through its serializer
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.locator('.tabs-container .tab', { hasText: 'Run: tk_panel' }).first().click({ timeout: 90_000 });
    const again = panelFrame(page);
    await again.locator('.chart[data-group="loss"][data-points="120"]').waitFor({ timeout: 90_000 });
    assert.equal(await again.locator('.samples table.grid img').count(), 12);
    t.diagnostic(`screenshot: ${await screenshot(page, 'run-panel-restored')}`);
  } catch (e) {
    await screenshot(page, 'run-panel-failure');
    throw e;
  } finally {
    await browser.close();
  }
});
