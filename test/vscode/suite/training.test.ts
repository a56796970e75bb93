/**
 * Training as a VS Code task, with the stand-in trainer (test/fixtures/fake-trainer.mjs) as
 * "accelerate": a run to the end, a run stopped mid-way (no process of its group left), a failing
 * run with the known-failure message, the preflight, and the environment check.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { LoraWorkbenchApi } from '../../../src/extension';
import type { RunInfo } from '../../../src/features/training/process';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
const TASK_TYPE = 'loraWorkbench.train';
const metrics = (globalThis as { __lwbMetrics?: Record<string, number | string> }).__lwbMetrics ?? {};
/** out/test/vscode/suite → the repository */
const FAKE_TRAINER = path.resolve(__dirname, '../../../../test/fixtures/fake-trainer.mjs');

function workspace(): vscode.WorkspaceFolder {
  const wf = vscode.workspace.workspaceFolders?.[0];
  assert.ok(wf, 'a workspace is open');
  return wf;
}

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function config(ws: string, name: string, extra: string): string {
  const dir = path.join(ws, 'train_test');
  return `[model_arguments]
pretrained_model_name_or_path = "${dir}/model.safetensors"
[dataset_arguments]
train_data_dir = "${ws}/dataset/img_train"
caption_extension = ".txt"
resolution = "1024,1024"
[training_arguments]
output_dir = "${dir}/out_${name}"
output_name = "${name}"
save_every_n_epochs = 1
mixed_precision = "bf16"
${extra}
[logging_arguments]
log_with = "tensorboard"
logging_dir = "${dir}/logs"
[additional_network_arguments]
network_module = "networks.lora"
network_dim = 8
network_alpha = 4
`;
}

async function taskFor(rel: string): Promise<vscode.Task> {
  return until(async () => (await vscode.tasks.fetchTasks({ type: TASK_TYPE })).find((t) => (t.definition as { config?: string }).config === rel), `the task for ${rel}`, 60_000);
}

/** Runs a task; resolves with its run (from the extension) and the exit code VS Code reports. */
async function execute(api: LoraWorkbenchApi, task: vscode.Task, during?: (run: RunInfo, exec: vscode.TaskExecution) => Promise<void>): Promise<{ run: RunInfo; exitCode: number | undefined }> {
  const holder: { exec?: vscode.TaskExecution } = {};
  const endProcess = new Promise<number | undefined>((resolve) => {
    const d = vscode.tasks.onDidEndTaskProcess((e) => {
      if (e.execution === holder.exec || e.execution.task.name === task.name) {
        d.dispose();
        resolve(e.exitCode);
      }
    });
  });
  const startRun = new Promise<RunInfo>((resolve) => {
    const d = api.training.onDidStartRun((r) => {
      if (r.name === task.name) {
        d.dispose();
        resolve(r);
      }
    });
  });
  const endRun = new Promise<RunInfo>((resolve) => {
    const d = api.training.onDidEndRun((r) => {
      if (r.name === task.name) {
        d.dispose();
        resolve(r);
      }
    });
  });
  const exec = await vscode.tasks.executeTask(task);
  holder.exec = exec;
  const run = await startRun;
  if (during) await during(run, exec);
  await endRun;
  const exitCode = await Promise.race([endProcess, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
  return { run, exitCode };
}

describe('training tasks', function () {
  this.timeout(240_000);
  let api: LoraWorkbenchApi;
  let ws: string;

  before(async () => {
    const ext = vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    ws = workspace().uri.fsPath;
    assert.ok(existsSync(FAKE_TRAINER), FAKE_TRAINER);
    // a stand-in sd-scripts folder, and the stand-in trainer as "accelerate"
    mkdirSync(path.join(ws, '.sd-scripts'), { recursive: true });
    writeFileSync(path.join(ws, '.sd-scripts', 'sdxl_train_network.py'), '# stand-in\n');
    const dir = path.join(ws, 'train_test');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.safetensors'), '');
    writeFileSync(path.join(dir, 'run_ok.toml'), config(ws, 'ok', 'max_train_epochs = 3\nfake_batches = 4\nfake_step_ms = 40'));
    writeFileSync(path.join(dir, 'run_stop.toml'), config(ws, 'stop', 'max_train_epochs = 50\nfake_batches = 10\nfake_step_ms = 300'));
    writeFileSync(path.join(dir, 'run_nodata.toml'), config(ws, 'nodata', 'max_train_epochs = 1\nfake_fail = "nodata"'));
    writeFileSync(path.join(dir, 'run_bad.toml'), config(ws, 'bad', 'max_train_epochs = 1\nresolution = 1024').replace('resolution = "1024,1024"\n', ''));
    const c = vscode.workspace.getConfiguration('loraWorkbench', workspace().uri);
    const t = vscode.ConfigurationTarget.Workspace;
    await c.update('training.sdScriptsFolder', '.sd-scripts', t);
    await c.update('training.accelerate', [process.execPath, FAKE_TRAINER], t);
    await c.update('training.env', { ELECTRON_RUN_AS_NODE: '1' }, t);
    await c.update('training.stopTimeout', 5, t);
  });

  after(() => {
    rmSync(path.join(ws, 'train_test'), { recursive: true, force: true });
    rmSync(path.join(ws, '.vscode', 'tasks.json'), { force: true });
  });

  it('offers a task for each training config in the workspace', async () => {
    const task = await taskFor('train_test/run_ok.toml');
    assert.equal(task.source, 'LoRA Workbench');
    const all = await vscode.tasks.fetchTasks({ type: TASK_TYPE });
    const configs = all.map((t) => (t.definition as unknown as { config: string }).config);
    assert.ok(configs.includes('config/config_file.toml'), configs.join(', '));
    // dataset configs and prompt files are not training configs
    assert.ok(!configs.includes('config/sample_prompt.toml'));
    // the list follows the files: a new config appears, a deleted folder takes its configs along
    const extra = path.join(ws, 'train_test', 'extra');
    mkdirSync(extra, { recursive: true });
    writeFileSync(path.join(extra, 'more.toml'), config(ws, 'more', 'max_train_epochs = 1'));
    await taskFor('train_test/extra/more.toml');
    rmSync(extra, { recursive: true, force: true });
    await until(async () => ((await vscode.tasks.fetchTasks({ type: TASK_TYPE })).some((t) => (t.definition as unknown as { config: string }).config === 'train_test/extra/more.toml') ? undefined : true), 'the deleted config to go', 60_000);
  });

  it('runs the stand-in trainer to the end; the parser sees every step', async () => {
    const task = await taskFor('train_test/run_ok.toml');
    const started = Date.now();
    const { run, exitCode } = await execute(api, task);
    metrics.trainingRunMs = Date.now() - started;
    assert.equal(run.exitCode, 0, run.state.tail.join('\n'));
    assert.equal(exitCode, 0, 'onDidEndTaskProcess reports exit code 0');
    assert.equal(run.state.progress?.step, 12);
    assert.equal(run.state.progress?.total, 12);
    assert.equal(run.state.epoch, 3);
    assert.ok(run.state.checkpoints.some((c) => c.endsWith('ok.safetensors')), run.state.checkpoints.join(', '));
    assert.ok(existsSync(path.join(ws, 'train_test', 'out_ok', 'ok.safetensors')));
    assert.equal(api.training.outcome(run).kind, 'success');
    assert.match(api.training.outcome(run).message, /12\/12 steps/);
  });

  it('stops a run mid-way: SIGINT to its process group, nothing of it left', async () => {
    const task = await taskFor('train_test/run_stop.toml');
    let pid: number | undefined;
    let stoppedAt = 0;
    const { run, exitCode } = await execute(api, task, async (r, exec) => {
      pid = r.pid;
      await until(() => ((r.state.progress?.step ?? 0) >= 2 ? true : undefined), 'two steps', 60_000);
      stoppedAt = Date.now();
      exec.terminate();
    });
    metrics.trainingStopMs = Date.now() - stoppedAt;
    assert.ok(pid !== undefined);
    assert.equal(run.stopped, true);
    assert.equal(run.exitCode, 130, 'the trainer handled SIGINT');
    assert.ok((run.state.progress?.step ?? 0) < 500, 'it stopped before the end');
    assert.match(run.state.tail.join('\n'), /KeyboardInterrupt/);
    await until(() => {
      try {
        process.kill(-(pid as number), 0);
        return undefined;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ESRCH' ? true : undefined;
      }
    }, 'the process group to be gone', 15_000);
    assert.equal(api.training.outcome(run).kind, 'stopped');
    assert.ok(exitCode === undefined || typeof exitCode === 'number');
  });

  it('kills what ignores the interrupt: SIGKILL to the whole group after the stop timeout', async () => {
    const c = vscode.workspace.getConfiguration('loraWorkbench', workspace().uri);
    const t = vscode.ConfigurationTarget.Workspace;
    // a "trainer" that ignores SIGINT and has a child that ignores it too
    const stubborn = path.join(ws, 'train_test', 'stubborn.js');
    writeFileSync(stubborn, `
const { spawn } = require('node:child_process');
process.on('SIGINT', () => console.log('ignoring SIGINT'));
const c = spawn(process.execPath, ['-e', "process.on('SIGINT', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
console.log('child ' + c.pid);
let n = 0;
setInterval(() => process.stderr.write('\\rsteps:  ' + (++n) + '%|          | ' + n + '/100 [00:01<00:09,  1.00it/s, avr_loss=0.1]'), 200);
`);
    await c.update('training.accelerate', [process.execPath, stubborn], t);
    await c.update('training.stopTimeout', 1, t);
    try {
      const task = await taskFor('train_test/run_ok.toml');
      let pid: number | undefined;
      let child: number | undefined;
      let stoppedAt = 0;
      const { run } = await execute(api, task, async (r, exec) => {
        pid = r.pid;
        await until(() => ((r.state.progress?.step ?? 0) >= 2 ? true : undefined), 'progress', 60_000);
        child = Number(/child (\d+)/.exec(r.state.tail.join('\n'))?.[1]);
        stoppedAt = Date.now();
        exec.terminate();
      });
      metrics.trainingKillMs = Date.now() - stoppedAt;
      assert.ok(pid && child, run.state.tail.join('\n'));
      assert.equal(run.stopped, true);
      assert.equal(run.exitCode, 137, 'ended by SIGKILL');
      for (const p of [-(pid as number), child as number]) {
        await until(() => {
          try {
            process.kill(p, 0);
            return undefined;
          } catch (e) {
            return (e as NodeJS.ErrnoException).code === 'ESRCH' ? true : undefined;
          }
        }, `process ${p} to be gone`, 15_000);
      }
      assert.ok(Date.now() - stoppedAt >= 900, 'SIGINT came first, SIGKILL only after the timeout');
    } finally {
      await c.update('training.accelerate', [process.execPath, FAKE_TRAINER], t);
      await c.update('training.stopTimeout', 5, t);
    }
  });

  it('runs a tasks.json entry with its own arguments (resolveTask)', async () => {
    mkdirSync(path.join(ws, '.vscode'), { recursive: true });
    writeFileSync(path.join(ws, '.vscode', 'tasks.json'), JSON.stringify({
      version: '2.0.0',
      tasks: [{ type: TASK_TYPE, label: 'train from tasks.json', config: 'train_test/run_ok.toml', args: ['--max_train_epochs=1', '--fake_step_ms=5'] }],
    }, null, 2));
    const task = await until(async () => (await vscode.tasks.fetchTasks({ type: TASK_TYPE })).find((t) => t.name === 'train from tasks.json'), 'the tasks.json task', 60_000);
    assert.deepEqual((task.definition as unknown as { args: string[] }).args, ['--max_train_epochs=1', '--fake_step_ms=5']);
    const { run } = await execute(api, task);
    assert.equal(run.exitCode, 0, run.state.tail.join('\n'));
    assert.equal(run.state.progress?.total, 4, 'the extra argument reached the trainer');
  });

  it('a run that finds no data ends with the known-failure message and what to do', async () => {
    const task = await taskFor('train_test/run_nodata.toml');
    const { run, exitCode } = await execute(api, task);
    assert.equal(run.exitCode, 1);
    assert.equal(exitCode, 1);
    assert.equal(run.state.failures[0]?.kind, 'noData');
    const o = api.training.outcome(run);
    assert.equal(o.kind, 'failure');
    assert.match(o.message, /found no training images \("No data found"\)/);
    assert.match(o.hint ?? '', /N_name folders/);
  });

  it('preflight stops a config with an error (and passes the good one)', async () => {
    const folder = workspace();
    const bad = api.training.preflight({ config: 'train_test/run_bad.toml' }, folder);
    const errors = bad.filter((p) => p.severity === 'error');
    assert.ok(errors.some((p) => /resolution/.test(p.message) && p.line !== undefined), JSON.stringify(bad));
    assert.deepEqual(api.training.preflight({ config: 'train_test/run_ok.toml' }, folder).filter((p) => p.severity === 'error'), []);
    const missing = api.training.preflight({ config: 'train_test/nope.toml', script: 'sdxl_train.py' }, folder);
    assert.ok(missing.some((p) => /nope\.toml does not exist/.test(p.message)));
    assert.ok(missing.some((p) => /sdxl_train\.py is not in the sd-scripts folder/.test(p.message)));
  });

  it('checks the training environment and says what is missing, with the fix', async () => {
    const checks = await vscode.commands.executeCommand<Array<{ id: string; ok: boolean; message: string; fix?: string }>>(
      'loraWorkbench.checkTrainingEnvironment',
      { config: 'train_test/run_ok.toml' },
    );
    const sd = checks.find((c) => c.id === 'sdScripts');
    assert.ok(sd?.ok, JSON.stringify(checks));
    const py = checks.find((c) => c.id === 'python');
    // the stand-in setup has no Python venv: reported with how to make one
    assert.equal(py?.ok, false);
    assert.match(py?.fix ?? '', /python -m venv venv/);
  });
});
