// Training extras in the UI: the "Create Accelerate Config…" form answered through the command
// palette writes accelerate_config.yaml and points the setting at it; a failing stand-in training
// run (a dataset config that does not parse) shows problems from the contributed problem matchers
// ($lwb-sd-scripts, $lwb-python) in the Problems panel: VS Code runs problem matchers on the
// output of a CustomExecution (pseudoterminal) task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, openWorkbench, runCommand, screenshot, waitFor } from './workbench.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FAKE_TRAINER = join(root, 'test', 'fixtures', 'fake-trainer.mjs');

function readSettings() {
  try {
    return JSON.parse(readFileSync(join(env.workspace, '.vscode', 'settings.json'), 'utf8'));
  } catch {
    return {};
  }
}

function prepareWorkspace() {
  const ws = env.workspace;
  mkdirSync(join(ws, '.sd-scripts'), { recursive: true });
  writeFileSync(join(ws, '.sd-scripts', 'sdxl_train_network.py'), '# stand-in\n');
  const dir = join(ws, 'extras_e2e');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), '');
  writeFileSync(join(dir, 'broken_dataset.toml'), '[general]\nshuffle_caption =\n');
  writeFileSync(
    join(dir, 'fail.toml'),
    `[model_arguments]
pretrained_model_name_or_path = "${dir}/model.safetensors"
[dataset_arguments]
train_data_dir = "${ws}/dataset/img_train"
resolution = "1024,1024"
[training_arguments]
output_dir = "${dir}/output"
output_name = "fail"
max_train_epochs = 1
fake_fail = "toml"
fake_bad_file = "${dir}/broken_dataset.toml"
[additional_network_arguments]
network_module = "networks.lora"
`,
  );
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  const settings = readSettings();
  Object.assign(settings, {
    'loraWorkbench.training.sdScriptsFolder': '.sd-scripts',
    'loraWorkbench.training.accelerate': [process.execPath, FAKE_TRAINER],
    'loraWorkbench.training.env': { ELECTRON_RUN_AS_NODE: '1' },
  });
  delete settings['loraWorkbench.training.accelerateConfig'];
  writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  rmSync(join(ws, 'accelerate_config.yaml'), { force: true });
}

/** Types into the quick input and presses Enter once the list (or box) shows `expect`. */
async function answer(page, text, expect) {
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ timeout: 30_000 });
  await input.fill(text);
  if (expect) await page.locator('.quick-input-widget', { hasText: expect }).first().waitFor({ timeout: 30_000 });
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
}

test('the accelerate form and the problem matchers in the real UI', { timeout: 600_000 }, async (t) => {
  prepareWorkspace();
  const { browser, page } = await openWorkbench();
  try {
    // when this is the first window the in-host suite ran in it: report its training-extras tests
    const r = JSON.parse(readFileSync(env.results, 'utf8'));
    if (r.loadError) console.log(`in-host suite did not load: ${r.loadError}`);
    else {
      const mine = r.tests.filter((x) => /^training extras/.test(x.fullTitle));
      for (const x of mine) console.log(`in-host: ${x.state} ${x.fullTitle} (${x.durationMs} ms)${x.error ? `\n${x.error}` : ''}`);
      console.log(`in-host suite: ${r.passed} passed, ${r.failed} failed, ${r.pending} pending`);
    }
    await runCommand(page, 'Notifications: Clear All Notifications');

    // ---- Create Accelerate Config… ---------------------------------------------------------------
    await runCommand(page, 'LoRA Workbench: Create Accelerate Config…');
    const widget = page.locator('.quick-input-widget');
    await widget.locator('.monaco-list-row', { hasText: 'Several GPUs' }).waitFor({ timeout: 30_000 });
    assert.match(await widget.innerText(), /Create Accelerate Config \(1\/5\)/);
    await answer(page, 'Several', 'Several GPUs');
    // no nvidia-smi here: the GPU numbers are typed (with validation)
    await widget.getByText(/Which GPUs\?/).waitFor({ timeout: 30_000 });
    await page.locator('.quick-input-widget input.input').fill('0');
    await widget.getByText(/at least two numbers/).waitFor({ timeout: 15_000 });
    await answer(page, '0,1');
    await widget.locator('.monaco-list-row', { hasText: 'bf16' }).waitFor({ timeout: 30_000 });
    await page.waitForTimeout(300);
    t.diagnostic(`screenshot: ${await screenshot(page, 'accelerate-form')}`);
    await answer(page, 'bf16', 'bfloat16');
    await widget.getByText(/CPU threads per process/).waitFor({ timeout: 30_000 });
    await answer(page, '8');
    await widget.locator('.monaco-list-row', { hasText: 'In this workspace' }).waitFor({ timeout: 30_000 });
    await answer(page, 'workspace', 'In this workspace');
    const file = join(env.workspace, 'accelerate_config.yaml');
    await waitFor(() => existsSync(file), 30_000, 'accelerate_config.yaml');
    const yaml = readFileSync(file, 'utf8');
    t.diagnostic(yaml);
    assert.match(yaml, /^distributed_type: MULTI_GPU$/m);
    assert.match(yaml, /^gpu_ids: '0,1'$/m);
    assert.match(yaml, /^num_processes: 2$/m);
    assert.match(yaml, /^mixed_precision: bf16$/m);
    await waitFor(() => readSettings()['loraWorkbench.training.accelerateConfig'] === 'accelerate_config.yaml', 30_000, 'the accelerateConfig setting');
    await waitFor(() => readSettings()['loraWorkbench.training.numCpuThreadsPerProcess'] === 8, 30_000, 'the CPU threads setting');
    await page.locator('.notifications-toasts .notification-toast', { hasText: /Accelerate config written to/ }).first().waitFor({ timeout: 30_000 });
    t.diagnostic(`screenshot: ${await screenshot(page, 'accelerate-form-done')}`);

    // running it again asks before replacing the file
    await runCommand(page, 'LoRA Workbench: Create Accelerate Config…');
    await answer(page, 'One GPU', 'One GPU');
    await answer(page, 'all');
    await answer(page, 'fp16', 'fp16');
    await answer(page, '');
    await answer(page, 'workspace', 'In this workspace');
    const dialog = page.locator('.monaco-dialog-box', { hasText: /exists\. Replace it\?/ });
    await dialog.waitFor({ timeout: 30_000 });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForTimeout(500);
    assert.equal(readFileSync(file, 'utf8'), yaml, 'not replaced without confirmation');

    // ---- problem matchers on a failing training task ---------------------------------------------
    await runCommand(page, 'Notifications: Clear All Notifications');
    const quick = page.locator('.quick-input-widget');
    const typeRow = quick.locator('.monaco-list-row', { hasText: 'loraWorkbench.train' }).filter({ hasNotText: 'LoRA Workbench:' }).first();
    for (let attempt = 1; ; attempt++) {
      await runCommand(page, 'Tasks: Run Task');
      // recently used tasks push the task types down the (virtual) list: filter for ours
      await page.locator('.quick-input-widget input.input').fill('loraWorkbench.train');
      if (await typeRow.waitFor({ timeout: 60_000 }).then(() => true, () => false)) break;
      await screenshot(page, `extras-run-task-attempt-${attempt}`);
      if (attempt >= 2) throw new Error('"Tasks: Run Task" did not list loraWorkbench.train');
      await page.keyboard.press('Escape');
    }
    await typeRow.click();
    const taskRow = quick.locator('.monaco-list-row', { hasText: 'extras_e2e/fail.toml' }).first();
    await taskRow.waitFor({ timeout: 60_000 });
    await taskRow.click();
    // with problem matchers attached VS Code does not ask how to scan the output
    assert.equal(await quick.locator('.monaco-list-row', { hasText: /Continue without scanning/ }).count(), 0);
    await page.locator('.notifications-toasts .notification-toast', { hasText: /failed/ }).first().waitFor({ timeout: 120_000 });
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+M');
    const markers = page.locator('.markers-panel');
    await markers.waitFor({ timeout: 30_000 });
    // the sample workspace has many other problems and the list is virtual: filter for ours
    const filter = page.locator('.part.panel .viewpane-filter input').first();
    const show = async (text, row) => {
      await filter.fill(text);
      await markers.locator('.monaco-list-row', { hasText: row }).first().waitFor({ timeout: 60_000 });
      await page.waitForTimeout(300);
      return markers.innerText();
    };
    const sdText = await show('Error on parsing', /Error on parsing TOML config file/);
    t.diagnostic(sdText);
    assert.match(sdText, /broken_dataset\.toml/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'problem-matcher')}`);
    const pyText = await show('Key name found', /Key name found without value/);
    t.diagnostic(pyText);
    assert.match(pyText, /config_util\.py/);
    t.diagnostic(`screenshot: ${await screenshot(page, 'problem-matcher-python')}`);
  } catch (e) {
    await screenshot(page, 'training-extras-failure');
    throw e;
  } finally {
    await browser.close();
  }
});
