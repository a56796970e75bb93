/**
 * Training extras in the real VS Code: "Test the LoRA" with the gen_img stand-in
 * (test/fixtures/fake-gen-img.mjs, run by Node as "python") writes lora_test.json with every image
 * in its place; its preflight names missing files; and VS Code applies the contributed problem
 * matchers to the pseudoterminal output of a failing training task (CustomExecution).
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { LoraWorkbenchApi } from '../../../src/extension';
import type { LoraTestResult } from '../../../src/features/trainingExtras';
import { readPngTextChunks } from '../../../src/core/training/testLora';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
/** out/test/vscode/suite → the repository */
const FIXTURES = path.resolve(__dirname, '../../../../test/fixtures');
const FAKE_GEN_IMG = path.join(FIXTURES, 'fake-gen-img.mjs');
const FAKE_TRAINER = path.join(FIXTURES, 'fake-trainer.mjs');

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('training extras', function () {
  this.timeout(180_000);
  let api: LoraWorkbenchApi;
  let ws: string;
  let dir: string;
  const c = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('loraWorkbench', vscode.workspace.workspaceFolders?.[0]?.uri);
  const T = vscode.ConfigurationTarget.Workspace;

  before(async () => {
    const ext = vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.ok(ws);
    // a stand-in sd-scripts folder: Node runs sdxl_gen_img.py, which loads the gen_img stand-in
    mkdirSync(path.join(ws, '.sd-scripts'), { recursive: true });
    writeFileSync(path.join(ws, '.sd-scripts', 'sdxl_train_network.py'), '# stand-in\n');
    writeFileSync(path.join(ws, '.sd-scripts', 'sdxl_gen_img.py'), `import(require('node:url').pathToFileURL(${JSON.stringify(FAKE_GEN_IMG)}).href);\n`);
    dir = path.join(ws, 'extras test');
    const out = path.join(dir, 'out ティー');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(dir, 'base model.safetensors'), 'x');
    for (const n of ['tk-000001.safetensors', 'tk-000002.safetensors', 'tk.safetensors']) writeFileSync(path.join(out, n), 'x');
    writeFileSync(path.join(dir, 'prompts.txt'), '# test prompts\ntk girl, smile --w 1024 --h 1024\n少女, 笑顔 --n lowres --d 77\n');
    writeFileSync(path.join(dir, 'ds.toml'), '[general]\nfoo =\n');
    writeFileSync(
      path.join(dir, 'tk.toml'),
      `[model_arguments]\npretrained_model_name_or_path = "${dir}/base model.safetensors"\n[dataset_arguments]\ntrain_data_dir = "${ws}/dataset/img_train"\nresolution = "1024,1024"\n[training_arguments]\noutput_dir = "${out}"\noutput_name = "tk"\nmixed_precision = "bf16"\nsample_prompts = "${dir}/prompts.txt"\nmax_train_epochs = 1\n[additional_network_arguments]\nnetwork_module = "networks.lora"\n`,
    );
    await c().update('training.sdScriptsFolder', '.sd-scripts', T);
    await c().update('training.python', process.execPath, T);
    await c().update('training.accelerate', [process.execPath, FAKE_TRAINER], T);
    await c().update('training.env', { ELECTRON_RUN_AS_NODE: '1' }, T);
  });

  after(async () => {
    await c().update('training.python', undefined, T);
    rmSync(dir, { recursive: true, force: true });
  });

  it('"Test the LoRA…" runs gen_img over prompts × strengths × epochs and writes lora_test.json with every image in its place', async () => {
    const done = new Promise<LoraTestResult>((resolve) => {
      const d = api.testLora.onDidFinish((r) => {
        d.dispose();
        resolve(r);
      });
    });
    await vscode.commands.executeCommand('loraWorkbench.runLoraTest', { config: 'extras test/tk.toml', checkpoints: ['tk-000001.safetensors', 'tk-000002.safetensors', 'tk.safetensors'] });
    const r = await done;
    assert.equal(r.exitCode, 0);
    const file = path.join(dir, 'out ティー', 'lora_test', 'lora_test.json');
    assert.equal(r.jsonFile, file);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { version: number; prompts: string[]; strengths: number[]; epochs: (number | null)[]; images: { prompt: number; strength: number; epoch: number | null; file: string }[] };
    assert.equal(json.version, 1);
    assert.deepEqual(json.prompts, ['tk girl, smile', '少女, 笑顔']);
    assert.deepEqual(json.strengths, [0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(json.epochs, [1, 2, null]);
    assert.equal(json.images.length, 2 * 5 * 3);
    const cells = new Set(json.images.map((i) => `${i.prompt}|${i.strength}|${i.epoch}`));
    assert.equal(cells.size, 30, 'every prompt × strength × epoch once');
    for (const img of json.images) {
      const chunks = readPngTextChunks(readFileSync(path.join(dir, 'out ティー', 'lora_test', img.file)));
      const muls = (chunks['lwb-fake-am'] ?? '').split(',').map(Number);
      const ci = json.epochs.indexOf(img.epoch);
      assert.equal(muls[ci], img.strength, `${img.file}: generated with --am ${chunks['lwb-fake-am']}`);
      assert.ok(muls.every((m, k) => k === ci || m === 0));
      assert.equal(chunks['prompt'], json.prompts[img.prompt]);
      assert.equal(chunks['seed'], img.prompt === 0 ? '1234' : '77');
    }
    assert.ok(existsSync(path.join(dir, 'out ティー', 'lora_test', 'lora_test_prompts.txt')));
  });

  it('offers a test task per training config, and its preflight names what is missing', async () => {
    const tasks = await until(async () => {
      const all = await vscode.tasks.fetchTasks({ type: 'loraWorkbench.testLora' });
      return all.find((t) => (t.definition as unknown as { config: string }).config === 'extras test/tk.toml');
    }, 'the test task of the config', 60_000);
    assert.deepEqual(tasks.problemMatchers, ['$lwb-python', '$lwb-sd-scripts']);
    const ok = api.testLora.prepare({ config: 'extras test/tk.toml' });
    assert.deepEqual(ok.errors, []);
    assert.equal(ok.spec?.command, process.execPath);
    assert.ok(ok.spec?.args.includes('--sequential_file_name'));
    const bad = api.testLora.prepare({ config: 'extras test/tk.toml', checkpoints: ['tk-000009.safetensors'], baseModel: 'nope.safetensors', prompts: 'missing.txt' });
    assert.ok(bad.errors.some((e) => /tk-000009\.safetensors does not exist/.test(e)), bad.errors.join('\n'));
    assert.ok(bad.errors.some((e) => /base model .*nope\.safetensors does not exist/.test(e)));
    assert.ok(bad.errors.some((e) => /missing\.txt cannot be read/.test(e)));
  });

  it('VS Code applies $lwb-python and $lwb-sd-scripts to the pseudoterminal output of a failing training task', async () => {
    const ds = path.join(dir, 'ds.toml');
    // the stand-in fails the way sd-scripts does on a dataset config that does not parse (the
    // preflight does not see fake_bad_file, so no modal stops the run)
    writeFileSync(path.join(dir, 'fail.toml'), `${readFileSync(path.join(dir, 'tk.toml'), 'utf8')}fake_fail = "toml"\nfake_bad_file = "${ds}"\n`);
    assert.deepEqual(api.training.preflight({ config: 'extras test/fail.toml' }).filter((p) => p.severity === 'error'), [], 'no preflight modal');
    const t = await until(async () => (await vscode.tasks.fetchTasks({ type: 'loraWorkbench.train' })).find((x) => (x.definition as unknown as { config: string }).config === 'extras test/fail.toml'), 'the provided task', 60_000);
    assert.deepEqual(t.problemMatchers, ['$lwb-python', '$lwb-sd-scripts']);
    const ended = new Promise<number | undefined>((resolve) => {
      const d = vscode.tasks.onDidEndTaskProcess((e) => {
        if (e.execution.task.name === t.name) {
          d.dispose();
          resolve(e.exitCode);
        }
      });
    });
    await vscode.tasks.executeTask(t);
    assert.equal(await ended, 1);
    {
      const diag = await until(() => {
        const sd = vscode.languages.getDiagnostics(vscode.Uri.file(ds)).find((d) => d.source === 'sd-scripts');
        const py = vscode.languages.getDiagnostics().flatMap(([u, ds2]) => ds2.map((d) => ({ u, d }))).find((x) => x.d.source === 'python' && x.u.fsPath.endsWith('config_util.py'));
        return sd && py ? { sd, py } : undefined;
      }, 'problems from the matchers', 30_000);
      assert.match(diag.sd.message, /Error on parsing TOML config file/);
      assert.equal(diag.sd.severity, vscode.DiagnosticSeverity.Error);
      assert.match(diag.py.d.message, /Key name found without value/);
      assert.equal(diag.py.d.range.start.line, 616, 'line 617, 0-based');
    }
  });
});
