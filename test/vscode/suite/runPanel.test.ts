/**
 * The training run panel in the real VS Code: opened on the real TensorBoard fixture with an
 * output folder (samples, checkpoints, states, lora_test.json), on a folder with a corrupt event
 * file (the reader's message, the good records still shown), on an empty folder, and following a
 * live run of the stand-in trainer (points arrive in several appends while it writes).
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { LoraWorkbenchApi } from '../../../src/extension';
import { buildSafetensors, readEventFile } from '../../../src/core/training';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
const TASK_TYPE = 'loraWorkbench.train';
const REPO = path.resolve(__dirname, '../../../..');
const FAKE_TRAINER = path.join(REPO, 'test/fixtures/fake-trainer.mjs');
const FIXTURE_RUN = path.join(REPO, 'test/fixtures/tfevents/kohya_lora_run_14steps');
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const metrics = (globalThis as { __lwbMetrics?: Record<string, number | string> }).__lwbMetrics ?? {};

async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('training run panel', function () {
  this.timeout(240_000);
  let api: LoraWorkbenchApi;
  let ws: string;
  let dir: string;

  before(async () => {
    const ext = vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.ok(ws);
    dir = path.join(ws, 'run_panel_test');
    mkdirSync(dir, { recursive: true });
  });

  after(() => {
    api.runPanel.current?.panel.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the fixture run: every scalar, samples, checkpoints with metadata, states, LoRA test', async () => {
    const logs = path.join(dir, 'logs');
    cpSync(FIXTURE_RUN, path.join(logs, 'tk_20260101120000'), { recursive: true });
    cpSync(FIXTURE_RUN, path.join(logs, 'tk_20260102120000'), { recursive: true });
    const out = path.join(dir, 'output');
    mkdirSync(path.join(out, 'sample'), { recursive: true });
    for (const e of [1, 2]) for (const p of [0, 1]) writeFileSync(path.join(out, 'sample', `tk_e00000${e}_0${p}_2026010112000${e}_42.png`), PNG);
    writeFileSync(path.join(out, 'tk-000001.safetensors'), buildSafetensors({ ss_network_dim: '16', ss_network_alpha: '8.0', ss_network_module: 'networks.lora', ss_tag_frequency: JSON.stringify({ '5_tk': { tk: 14 } }) }));
    writeFileSync(path.join(out, 'tk.safetensors'), Buffer.from([1, 2, 3]));
    mkdirSync(path.join(out, 'tk-000001-state'));
    writeFileSync(path.join(out, 'tk-000001-state', 'train_state.json'), '{"current_epoch": 1, "current_step": 7}');
    mkdirSync(path.join(out, 'lora_test'));
    writeFileSync(path.join(out, 'lora_test', 'a.png'), PNG);
    writeFileSync(path.join(out, 'lora_test', 'lora_test.json'), JSON.stringify({ version: 1, prompts: ['tk'], strengths: [0.5], epochs: [null], images: [{ prompt: 0, strength: 0.5, epoch: null, file: 'a.png' }] }));

    const panel = api.runPanel.open({ title: 'fixture', loggingDir: logs, outputDir: out });
    // the newest of the two runs is shown first
    const file = path.join(logs, 'tk_20260102120000', 'network_train', path.basename(readdirEvent(FIXTURE_RUN)));
    const expected = readEventFile(file).scalars.filter((s) => s.tag === 'loss/current').length;
    assert.ok(expected > 0);
    const runDir = path.dirname(file);
    await until(() => panel.posted.get(`${runDir}\nloss/current`) === expected, `the ${expected} loss/current points to be posted`);
    assert.deepEqual(panel.selectedRuns, [runDir]);
    // the run picker: both runs overlaid
    const older = path.join(logs, 'tk_20260101120000', 'network_train');
    await panel.handleMessage({ type: 'run/select', runs: [older, runDir, '/not/a/run'] });
    assert.deepEqual(panel.selectedRuns, [older, runDir]);
    await until(() => panel.posted.get(`${older}\nloss/current`) === expected, 'the older run’s points too');
    // everything the run has, in the tags sd-scripts writes
    const tags = [...panel.posted.keys()].map((k) => k.split('\n')[1]);
    assert.ok(tags.includes('loss/average') && tags.some((t) => t?.startsWith('lr/')), tags.join(', '));
    const o = await until(() => panel.lastOutputs, 'the outputs');
    assert.equal(o.samples.columns.length, 2);
    assert.equal(o.samples.cells.length, 2);
    assert.ok(o.samples.cells.every((r) => r.every((c) => c && c.src.startsWith('https://'))), 'every sample has a webview URI');
    const ck = o.checkpoints.find((c) => c.name === 'tk-000001.safetensors');
    assert.equal(ck?.epoch, 1);
    assert.ok(ck?.summary.some(([k, v]) => k === 'Dim / alpha' && v === '16 / 8'), JSON.stringify(ck?.summary));
    assert.deepEqual(ck?.tagFrequency, { '5_tk': { tk: 14 } });
    assert.match(o.checkpoints.find((c) => c.name === 'tk.safetensors')?.error ?? '', /shorter than the 8-byte header/);
    assert.deepEqual(o.states.map((s) => [s.name, s.epoch, s.step]), [['tk-000001-state', 1, 7]]);
    assert.equal(o.loraTest?.ok, true);
    assert.equal(o.canResume, false, 'no config: nothing to resume with');
  });

  it('reports a corrupt record by file and keeps the rest; an empty folder says what is missing', async () => {
    const bad = path.join(dir, 'corrupt');
    mkdirSync(bad, { recursive: true });
    const src = path.join(FIXTURE_RUN, 'network_train', path.basename(readdirEvent(FIXTURE_RUN)));
    const buf = Buffer.from(readFileSync(src));
    buf[buf.length - 6] = (buf[buf.length - 6] as number) ^ 0xff;
    writeFileSync(path.join(bad, path.basename(src)), buf);
    const target = await api.runPanel.targetForFolder(bad);
    const panel = api.runPanel.open(target);
    await until(() => panel.problems.some((p) => p.includes(path.basename(src)) && /CRC/.test(p)), 'the corrupt record to be reported');
    await until(() => (panel.posted.get(`${bad}\nloss/current`) ?? 0) > 10, 'the good records');

    const empty = path.join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    await vscode.commands.executeCommand('loraWorkbench.openFolderAsRun', vscode.Uri.file(empty));
    const p2 = api.runPanel.current;
    assert.ok(p2);
    assert.equal(p2.runFolders.length, 0);
    assert.ok(p2.infoProblems.some((p) => p.includes('No TensorBoard event files') && p.includes(empty)), p2.infoProblems.join('\n'));
  });

  it('follows a training task: opens when it starts and receives the points as they are written', async () => {
    const c = vscode.workspace.getConfiguration('loraWorkbench', vscode.workspace.workspaceFolders?.[0]?.uri);
    const t = vscode.ConfigurationTarget.Workspace;
    mkdirSync(path.join(ws, '.sd-scripts'), { recursive: true });
    writeFileSync(path.join(ws, '.sd-scripts', 'sdxl_train_network.py'), '# stand-in\n');
    writeFileSync(path.join(dir, 'model.safetensors'), '');
    writeFileSync(path.join(dir, 'prompts.txt'), 'tk girl, smile --d 42\ntk girl, beach --d 7\n');
    writeFileSync(
      path.join(dir, 'live.toml'),
      `[model_arguments]
pretrained_model_name_or_path = "${dir}/model.safetensors"
[dataset_arguments]
train_data_dir = "${ws}/dataset/img_train"
resolution = "1024,1024"
[training_arguments]
output_dir = "${dir}/live_out"
output_name = "live"
max_train_epochs = 3
save_every_n_epochs = 1
save_state = true
sample_every_n_epochs = 1
sample_prompts = "${dir}/prompts.txt"
fake_batches = 6
fake_step_ms = 300
[logging_arguments]
log_with = "tensorboard"
logging_dir = "${dir}/live_logs"
[additional_network_arguments]
network_module = "networks.lora"
`,
    );
    assert.ok(existsSync(FAKE_TRAINER));
    // a stand-in nvidia-smi on PATH: the panel shows GPU use while the run goes
    const bin = path.join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'nvidia-smi'), '#!/bin/sh\necho "0, 87, 10240, 24564"\n', { mode: 0o755 });
    const oldPath = process.env['PATH'];
    process.env['PATH'] = `${bin}${path.delimiter}${oldPath ?? ''}`;
    await c.update('training.sdScriptsFolder', '.sd-scripts', t);
    await c.update('training.accelerate', [process.execPath, FAKE_TRAINER], t);
    await c.update('training.env', { ELECTRON_RUN_AS_NODE: '1' }, t);
    const rel = 'run_panel_test/live.toml';
    const task = await until(async () => (await vscode.tasks.fetchTasks({ type: TASK_TYPE })).find((x) => (x.definition as { config?: string }).config === rel), 'the task', 60_000);
    const ended = new Promise<void>((resolve) => {
      const d = api.training.onDidEndRun((r) => {
        if (r.name === task.name) {
          d.dispose();
          resolve();
        }
      });
    });
    const posts: number[] = [];
    let sub: vscode.Disposable | undefined;
    const started = Date.now();
    await vscode.tasks.executeTask(task);
    const panel = await until(() => api.runPanel.current?.currentTarget.config === path.join(dir, 'live.toml') && api.runPanel.current, 'the panel to open for the run');
    sub = panel.onDidPostSeries((e) => posts.push(e.points));
    let gpu: unknown;
    try {
      gpu = await until(() => panel.lastGpu ?? undefined, 'GPU use from nvidia-smi', 20_000).catch((e: Error) => e.message);
    } finally {
      process.env['PATH'] = oldPath;
    }
    assert.deepEqual(gpu, [{ index: 0, utilizationPercent: 87, memoryUsedMiB: 10240, memoryTotalMiB: 24564 }]);
    await ended;
    const runDir = await until(() => panel.selectedRuns[0], 'the new run to be selected');
    await until(() => panel.posted.get(`${runDir}\nloss/current`) === 18, 'all 18 steps of loss/current');
    metrics.runPanelLiveRunMs = Date.now() - started;
    sub.dispose();
    sub = undefined;
    assert.ok(runDir.startsWith(path.join(dir, 'live_logs')), runDir);
    assert.ok(posts.length >= 3, `points arrived in ${posts.length} appends (live), not all at once`);
    metrics.runPanelLiveAppends = posts.length;
    const o = await until(() => (panel.lastOutputs && panel.lastOutputs.checkpoints.length >= 3 ? panel.lastOutputs : undefined), 'three checkpoints');
    assert.deepEqual(o.checkpoints.map((x) => x.name), ['live-000001.safetensors', 'live-000002.safetensors', 'live.safetensors']);
    assert.equal(o.samples.columns.length, 3);
    assert.deepEqual(o.samples.prompts, [{ index: 0, text: 'tk girl, smile' }, { index: 1, text: 'tk girl, beach' }]);
    assert.equal(o.states.length, 2);
    assert.equal(o.canResume, true);
    const progress = panel.lastProgress;
    assert.equal(progress?.state, 'finished');
    assert.equal(progress?.step, 18);

    // "Resume from this state": the same task again with --resume <state folder>
    const state = o.states[0]?.dir as string;
    const resumed = new Promise<import('../../../src/features/training/process').RunInfo>((resolve) => {
      const d = api.training.onDidStartRun((r) => {
        d.dispose();
        resolve(r);
      });
    });
    // a path outside the output folder is refused (the webview cannot launch anything else)
    await panel.handleMessage({ type: 'run/resume', state: path.join(ws, 'elsewhere-state') });
    await panel.handleMessage({ type: 'run/resume', state });
    const r2 = await Promise.race([resumed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
    assert.ok(r2, 'a resumed run started');
    assert.deepEqual(r2.definition?.args, ['--resume', state]);
    assert.equal(r2.config, path.join(dir, 'live.toml'));
    await until(() => r2.exitCode !== undefined, 'the resumed run to end', 60_000);
    assert.equal(r2.exitCode, 0);
    // the trainer continued after epoch 1: only epoch 2's and the final model were saved again
    assert.deepEqual(r2.state.checkpoints.map((f) => path.basename(f)), ['live-000002.safetensors', 'live.safetensors']);
  });
});

function readdirEvent(runRoot: string): string {
  const d = path.join(runRoot, 'network_train');
  const f = readdirSync(d).find((n) => n.startsWith('events.out.tfevents.'));
  return path.join(d, f as string);
}
