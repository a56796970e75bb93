import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { parseTrainingOutput, TrainingOutputParser, type OutputEvent } from '../../src/core/training/output';
import { findRuns, RunReader, readEventFile } from '../../src/core/training/tfevents';
import { listCheckpoints, listSamples, listStates, readSafetensorsHeader } from '../../src/core/training/runs';
import { tempDir } from './helpers';
import { FAKE_TRAINER } from './training-helpers';

/** Runs the stand-in trainer with stdout and stderr into one file, in order, as a terminal shows them. */
function runFake(dir: string, args: string[]): { code: number | null; output: Buffer } {
  const log = path.join(dir, 'console.log');
  const fd = openSync(log, 'w');
  try {
    const r = spawnSync(process.execPath, [FAKE_TRAINER, ...args], { stdio: ['ignore', fd, fd], cwd: dir });
    return { code: r.status, output: readFileSync(log) };
  } finally {
    closeSync(fd);
  }
}

function types(events: OutputEvent[], type: OutputEvent['type']): number {
  return events.filter((e) => e.type === type).length;
}

describe('the stand-in trainer', () => {
  it('writes console output, TensorBoard records, samples, checkpoints and states as sd-scripts does', (t) => {
    const dir = tempDir(t);
    const out = path.join(dir, 'out put');
    const logs = path.join(dir, 'logs');
    writeFileSync(
      path.join(dir, 'config.toml'),
      `[training]\noutput_dir = "${out}"\noutput_name = "tk lora"\nlogging_dir = "${logs}"\nlog_prefix = "tk"\n` +
        `max_train_epochs = 3\nsave_every_n_epochs = 1\nsave_state = true\nsample_every_n_epochs = 1\n`,
    );
    writeFileSync(path.join(dir, 'prompts.txt'), '# comment\ntk girl, smile --w 1024 --h 1024 --d 42\n\ntk girl, standing\n');
    const r = runFake(dir, ['--config_file', 'accelerate.yaml', 'sdxl_train_network.py', '--config_file=config.toml', '--sample_prompts=prompts.txt', '--fake_step_ms=0']);
    assert.equal(r.code, 0, r.output.toString());

    const { events, state } = parseTrainingOutput(r.output);
    assert.deepEqual(state.failures, []);
    assert.deepEqual(state.info, { trainImages: 20, regImages: 0, batchesPerEpoch: 4, epochs: 3, batchSize: '5', gradientAccumulationSteps: 1, totalSteps: 12 });
    assert.equal(state.progress?.step, 12);
    assert.equal(state.progress?.total, 12);
    assert.ok((state.progress?.avrLoss ?? NaN) > 0);
    assert.equal(types(events, 'progress'), 14); // 0, 1..12, and the closing update
    assert.equal(types(events, 'epoch'), 3);
    assert.equal(types(events, 'sampling'), 3);
    assert.deepEqual(state.checkpoints, [
      path.join(out, 'tk lora-000001.safetensors'),
      path.join(out, 'tk lora-000002.safetensors'),
      path.join(out, 'tk lora.safetensors'),
    ]);
    assert.equal(state.modelSaved, true);

    const runs = findRuns(logs);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.prefix, 'tk');
    assert.equal(runs[0]?.tracker, 'network_train');
    const ev = readEventFile(runs[0]!.files[0]!);
    assert.deepEqual(ev.corrupt, []);
    const count = (tag: string): number => ev.scalars.filter((s) => s.tag === tag).length;
    assert.deepEqual(
      ['loss/current', 'loss/average', 'lr/textencoder', 'lr/unet', 'lr/group1', 'loss/epoch_average'].map(count),
      [12, 12, 12, 12, 12, 3],
    );
    assert.deepEqual(ev.scalars.filter((s) => s.tag === 'loss/epoch_average').map((s) => s.step), [1, 2, 3]);
    // the last avr_loss on the console is the last loss/average written (to tqdm's 3 significant digits)
    const lastAvg = ev.scalars.filter((s) => s.tag === 'loss/average').at(-1)?.value ?? NaN;
    assert.equal(Number(lastAvg.toPrecision(3)), state.progress?.avrLoss);

    const samples = listSamples(out);
    assert.equal(samples.length, 6);
    assert.deepEqual(samples.map((s) => [s.epoch, s.promptIndex]), [[1, 0], [1, 1], [2, 0], [2, 1], [3, 0], [3, 1]]);
    assert.ok(samples.every((s) => s.outputName === 'tk lora' && s.seed === 42));
    const ckpts = listCheckpoints(out, 'tk lora');
    assert.deepEqual(ckpts.map((c) => [c.kind, c.epoch ?? null]), [['epoch', 1], ['epoch', 2], ['final', null]]);
    for (const c of ckpts) {
      const h = readSafetensorsHeader(c.file);
      assert.ok(h.ok);
      assert.equal(h.ss['ss_network_module'], 'networks.lora');
      assert.equal(h.ss['ss_epoch'], String(c.epoch ?? 3));
    }
    assert.deepEqual(listStates(out).map((s) => [s.epoch, s.currentEpoch, s.currentStep]), [[1, 1, 4], [2, 2, 8]]);
  });

  it('fails the way sd-scripts fails, and the parser names each failure', (t) => {
    const cases: [string, string][] = [
      ['oom', 'cudaOutOfMemory'],
      ['module', 'missingModule'],
      ['nodata', 'noData'],
      ['nan', 'nanLoss'],
    ];
    for (const [fail, kind] of cases) {
      const dir = tempDir(t);
      const r = runFake(dir, [`--output_dir=${path.join(dir, 'o')}`, `--fake_fail=${fail}`, '--fake_step_ms=0']);
      assert.equal(r.code, fail === 'nan' ? 0 : 1, fail);
      const { state } = parseTrainingOutput(r.output);
      assert.deepEqual(state.failures.map((f) => f.kind), [kind], fail);
      if (fail === 'module') assert.equal(state.failures[0]?.package, 'lycoris-lora');
      if (fail !== 'nan') assert.ok(state.traceback?.exception, fail);
    }
  });

  it('stops on SIGINT with exit code 130, leaving readable event files', async (t) => {
    const dir = tempDir(t);
    const logs = path.join(dir, 'logs');
    const child = spawn(process.execPath, [FAKE_TRAINER, `--logging_dir=${logs}`, `--output_dir=${path.join(dir, 'o')}`, '--max_train_epochs=100000', '--fake_step_ms=20'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const parser = new TrainingOutputParser();
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer): void => {
        const events = parser.push(chunk);
        if (events.some((e) => e.type === 'progress' && e.progress.step >= 3)) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        onData(c);
      });
    });
    // while it runs, the records written so far are readable
    const run = new RunReader(findRuns(logs)[0]!.dir);
    const live = run.read();
    assert.deepEqual(live.corrupt, []);
    assert.ok(live.scalars.filter((s) => s.tag === 'loss/current').length >= 3);
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.match(stderr, /KeyboardInterrupt: training stopped at step \d+\/400000/);
    assert.deepEqual(run.read().corrupt, []);
  });
});
