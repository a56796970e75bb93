import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { nodeFileSystem } from '../../src/core/config';
import {
  describePreflight,
  parseTrainingOutput,
  preflightTraining,
  progressText,
  resolveTrainingLaunch,
  runOutcome,
  type FsProbe,
} from '../../src/core/training';
import { tempDir } from './helpers';
import { FAKE_TRAINER, LOG_520 } from './training-helpers';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

function probe(files: string[], dirs: string[] = []): FsProbe {
  const f = new Set(files);
  const d = new Set(dirs);
  return { isFile: (p) => f.has(p), isDirectory: (p) => d.has(p) };
}

const fsText = {
  ...nodeFileSystem,
  readText(p: string): string | undefined {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  },
};

describe('training launch', () => {
  it('puts a wrapper command before accelerate launch and merges settings and task env', () => {
    const r = resolveTrainingLaunch(
      { config: 'cfg/a b.toml', env: { A: 'task' } },
      {
        settings: { sdScriptsFolder: 'sd', accelerate: ['/usr/bin/node', '/x/fake trainer.mjs'], accelerateConfig: 'acc.yaml', env: { A: 'setting', B: 'b' } },
        baseDir: '/ws',
        baseEnv: { PATH: '/bin' },
        fs: probe([]),
      },
    );
    assert.ok(r.ok);
    assert.equal(r.spec.command, '/usr/bin/node');
    assert.deepEqual(r.spec.args, ['/x/fake trainer.mjs', 'launch', '--config_file', '/ws/acc.yaml', 'sdxl_train_network.py', '--config_file=/ws/cfg/a b.toml']);
    assert.equal(r.spec.cwd, '/ws/sd');
    assert.equal(r.spec.env['A'], 'task');
    assert.equal(r.spec.env['B'], 'b');
  });

  it('finds accelerate in the venv of the sd-scripts folder, and python -m accelerate without it', () => {
    const withAcc = resolveTrainingLaunch({ config: '/c.toml' }, {
      settings: { sdScriptsFolder: '/sd' },
      fs: probe(['/sd/venv/bin/python', '/sd/venv/bin/accelerate'], ['/sd/venv']),
    });
    assert.ok(withAcc.ok);
    assert.equal(withAcc.spec.command, '/sd/venv/bin/accelerate');
    assert.equal(withAcc.spec.env['VIRTUAL_ENV'], '/sd/venv');
    const pyOnly = resolveTrainingLaunch({ config: '/c.toml' }, { settings: { sdScriptsFolder: '/sd', python: '/py/bin/python3' }, fs: probe(['/py/bin/python3']) });
    assert.ok(pyOnly.ok);
    assert.equal(pyOnly.spec.command, '/py/bin/python3');
    assert.deepEqual(pyOnly.spec.args.slice(0, 2), ['-m', 'accelerate.commands.launch']);
    const none = resolveTrainingLaunch({ config: '/c.toml' }, { settings: {}, fs: probe([]) });
    assert.equal(none.ok, false);
  });

  it('passes a hostile config value as one argument: no shell ever sees it', (t) => {
    const dir = tempDir(t);
    const marker = path.join(dir, 'pwned');
    const evil = `x; touch ${marker}; echo`;
    const r = resolveTrainingLaunch({ config: 'c.toml', args: [`--output_name=${evil}`, '$(touch ' + marker + ')'] }, {
      settings: { sdScriptsFolder: dir, accelerate: [process.execPath, '-e', 'console.log(JSON.stringify(process.argv.slice(1)))'] },
      baseDir: dir,
      fs: probe([]),
    });
    assert.ok(r.ok);
    const out = spawnSync(r.spec.command, r.spec.args, { cwd: r.spec.cwd, shell: false, encoding: 'utf8' });
    const argv = JSON.parse(out.stdout) as string[];
    assert.ok(argv.includes(`--output_name=${evil}`));
    assert.equal(spawnSync('test', ['-e', marker]).status, 1, 'nothing was executed');
  });

  it('preflight: a config with an error, a missing script, relative paths from the sd-scripts folder', (t) => {
    const dir = tempDir(t);
    const ws = path.join(dir, 'ws');
    const sd = path.join(dir, 'sd');
    mkdirSync(path.join(ws, 'data', '5_tk'), { recursive: true });
    mkdirSync(sd, { recursive: true });
    writeFileSync(path.join(ws, 'data', '5_tk', '1.png'), PNG);
    writeFileSync(path.join(ws, 'bad.toml'), 'train_data_dir = "data"\nresolution = 1024\noutput_dir = "out"\nnetwork_module = "networks.lora"\n');
    const problems = preflightTraining({ def: { config: 'bad.toml' }, sdScriptsDir: sd, baseDir: ws, fs: fsText });
    const text = describePreflight(problems);
    assert.match(text, /sdxl_train_network\.py is not in the sd-scripts folder/);
    // "data" does not exist from the sd-scripts folder, where sd-scripts resolves it
    assert.match(text, /exists in the workspace folder: use the absolute path/);
    assert.ok(problems.some((p) => p.severity === 'error' && p.file?.endsWith('bad.toml') && p.line === 2), text);
  });

  it('preflight: a good config passes; a dataset without images does not', (t) => {
    const dir = tempDir(t);
    const sd = path.join(dir, 'sd');
    mkdirSync(path.join(dir, 'data', '5_tk'), { recursive: true });
    mkdirSync(sd, { recursive: true });
    writeFileSync(path.join(sd, 'sdxl_train_network.py'), '');
    const data = path.join(dir, 'data');
    writeFileSync(path.join(dir, 'ok.toml'), `train_data_dir = "${data}"\noutput_dir = "${dir}/out"\nnetwork_module = "networks.lora"\n`);
    const empty = preflightTraining({ def: { config: 'ok.toml' }, sdScriptsDir: sd, baseDir: dir, fs: fsText });
    assert.match(describePreflight(empty), /No data found/);
    writeFileSync(path.join(data, '5_tk', '1.png'), PNG);
    assert.deepEqual(preflightTraining({ def: { config: 'ok.toml' }, sdScriptsDir: sd, baseDir: dir, fs: fsText }).filter((p) => p.severity === 'error'), []);
    assert.match(describePreflight(preflightTraining({ def: { config: 'missing.toml' }, sdScriptsDir: sd, baseDir: dir, fs: fsText })), /missing\.toml does not exist/);
  });

  it('status text and end-of-run messages from the real log and the stand-in trainer', (t) => {
    const { state } = parseTrainingOutput(readFileSync(LOG_520));
    assert.match(progressText(state.progress, state), /^520\/520 \(100%\) · epoch \d+\/\d+ · ETA 0:00 · loss \d/);
    assert.equal(progressText(undefined), 'starting…');
    assert.equal(runOutcome('x', 0, state).kind, 'success');
    const dir = tempDir(t);
    copyFileSync(FAKE_TRAINER, path.join(dir, 'fake.mjs'));
    for (const [mode, re] of [
      ['nodata', /found no training images.*N_name folders/s],
      ['oom', /ran out of memory.*train_batch_size/s],
      ['nan', /NaN.*bf16/s],
      ['module', /lycoris.*pip install lycoris-lora/s],
    ] as const) {
      const r = spawnSync(process.execPath, [path.join(dir, 'fake.mjs'), 'sdxl_train_network.py', `--fake_fail=${mode}`, '--fake_step_ms=0', `--output_dir=${dir}/o`], { encoding: 'utf8' });
      const parsed = parseTrainingOutput(r.stdout + r.stderr);
      const o = runOutcome('run', r.status ?? undefined, parsed.state);
      assert.equal(o.kind, 'failure', mode);
      assert.match(`${o.message} ${o.hint ?? ''}`, re, mode);
    }
    const stopped = runOutcome('run', 130, state, true);
    assert.equal(stopped.kind, 'stopped');
    const unknown = runOutcome('run', 2, parseTrainingOutput('Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad\n').state);
    assert.match(unknown.message, /exit code 2/);
    assert.deepEqual(unknown.details, ['ValueError: bad']);
  });
});
