import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { ROOT, tempDir } from './helpers';
import { FIXTURES, LOG_520, LOG_NAN, FAKE_TRAINER } from './training-helpers';
import {
  PROBLEM_MATCHERS,
  PYTHON_EXCEPTION,
  SD_SCRIPTS_FILE_ERROR,
  TRAINING_PROBLEM_MATCHERS,
  matchProblems,
} from '../../src/core/training/problemMatchers';
import {
  DEFAULT_STRENGTHS,
  buildTestLoraCommand,
  buildTestPlan,
  mapTestImages,
  parseGenImgSequence,
  parseTestPrompts,
  pngWithText,
  readPngTextChunks,
  trainingConfigFacts,
  type FoundImage,
} from '../../src/core/training/testLora';
import { accelerateConfigFile, parseCpuThreads, parseGpuSelection } from '../../src/core/training/accelerate';
import { resolveTrainingLaunch } from '../../src/core/training/launch';

const FAKE_GEN_IMG = path.join(FIXTURES, 'fake-gen-img.mjs');

describe('problem matchers', () => {
  it('are contributed in package.json exactly as defined in the core (the regexes VS Code runs are the tested ones)', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { contributes: { problemMatchers: unknown[]; problemPatterns?: unknown[] } };
    assert.deepEqual(pkg.contributes.problemMatchers, PROBLEM_MATCHERS);
    assert.deepEqual(TRAINING_PROBLEM_MATCHERS, ['$lwb-python', '$lwb-sd-scripts']);
  });

  it('find nothing in the output of real, successful sd-scripts runs (no false problems from INFO lines, tqdm bars or the dataset dump)', () => {
    for (const f of [LOG_520, LOG_NAN]) {
      const text = readFileSync(f, 'utf8');
      assert.ok(text.length > 1000 || f === LOG_NAN);
      assert.deepEqual(matchProblems(text), [], path.basename(f));
    }
  });

  it('match sd-scripts’ rich log layout at ERROR/WARNING level naming a config file (layout of the real log lines)', () => {
    // a real line of the fixture, with its level and message changed to what config_util.py logs
    const real = readFileSync(LOG_NAN, 'utf8').split('\n').find((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO {5}epoch is incremented/.test(l));
    assert.ok(real, 'a rich INFO line with a time column in the fixture');
    const msg = 'Error on parsing TOML config file. Please check the format. / TOML 形式の設定ファイルの読み込みに失敗しました。文法が正しいか確認してください。: /data/my loras/データ/dataset.toml';
    const line = real.replace('INFO    ', 'ERROR   ').replace(/epoch is incremented.*?(\s{2,}train_util\.py)/, `${msg}$1`).replace('train_util.py:779', 'config_util.py:621');
    assert.ok(line.startsWith('2025-06-29 '));
    const [p, ...rest] = matchProblems(line);
    assert.equal(rest.length, 0);
    assert.ok(p);
    assert.equal(p.matcher, 'lwb-sd-scripts');
    assert.equal(p.file, '/data/my loras/データ/dataset.toml');
    assert.equal(p.severity, 'error');
    assert.match(p.message, /^Error on parsing TOML config file.*dataset\.toml$/);

    // the continuation layout (blank time column) and a WARNING with a Windows path
    const w = matchProblems("                    WARNING  No prompt file / プロンプトファイルがありません: C:\\lora\\prompts.txt     train_util.py:5480");
    assert.equal(w.length, 1);
    assert.equal(w[0]?.file, 'C:\\lora\\prompts.txt');
    assert.equal(w[0]?.severity, 'warning');
    // INFO lines that name a file are not problems
    assert.deepEqual(matchProblems('2026-02-16 12:00:00 INFO     Loading dataset config from /data/dataset.toml   train_network.py:300'), []);
  });

  it('match the innermost frame of a Python traceback with its exception (from the stand-in trainer’s failures)', (t) => {
    const dir = tempDir(t);
    const ds = path.join(dir, 'データ set.toml');
    writeFileSync(ds, '[general]\nfoo =\n');
    const run = (fail: string): string => {
      const r = spawnSync(process.execPath, [FAKE_TRAINER, 'sdxl_train_network.py', `--fake_fail=${fail}`, `--dataset_config=${ds}`], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 1);
      return r.stdout + r.stderr;
    };
    const mod = matchProblems(run('module'));
    assert.equal(mod.length, 1);
    assert.deepEqual(
      { ...mod[0] },
      { matcher: 'lwb-python', file: path.join(dir, 'sdxl_train_network.py'), line: 9, severity: 'error', code: 'ModuleNotFoundError', message: "No module named 'lycoris'" },
    );
    const toml = matchProblems(run('toml'));
    assert.deepEqual(toml.map((p) => p.matcher).sort(), ['lwb-python', 'lwb-sd-scripts']);
    const py = toml.find((p) => p.matcher === 'lwb-python');
    assert.equal(py?.file, path.join(dir, 'library', 'config_util.py'));
    assert.equal(py?.line, 617);
    assert.equal(py?.code, 'toml.decoder.TomlDecodeError');
    assert.equal(toml.find((p) => p.matcher === 'lwb-sd-scripts')?.file, ds);
    const oom = matchProblems(run('oom'));
    assert.equal(oom[0]?.code, 'torch.cuda.OutOfMemoryError');
    assert.match(oom[0]?.message ?? '', /^CUDA out of memory/);
  });

  it('the exception pattern takes dotted names and leaves frames and prose alone', () => {
    const re = new RegExp(PYTHON_EXCEPTION);
    assert.ok(re.test('voluptuous.error.MultipleInvalid: extra keys not allowed @ data[\'datasets\'][0][\'foo\']'));
    assert.ok(re.test('AssertionError: No data found. Please verify arguments'));
    assert.ok(!re.test('  File "x.py", line 3, in f'));
    assert.ok(!re.test('Note: something'));
    assert.ok(!new RegExp(SD_SCRIPTS_FILE_ERROR).test('steps:   1%|▋     | 41/3280 [00:50<1:06:54,  1.24s/it, avr_loss=nan]'));
  });
});

describe('Test the LoRA: config, prompts, plan', () => {
  it('reads the base model, output folder, network module and sample prompts from the training config (relative to sd-scripts)', () => {
    const f = trainingConfigFacts(
      `[model_arguments]\npretrained_model_name_or_path = "models/sd xl ベース.safetensors"\n[training_arguments]\noutput_dir = "/out/my lora"\noutput_name = "tk"\nmixed_precision = "bf16"\nsdpa = true\nsample_prompts = "prompts/サンプル.txt"\n[additional_network_arguments]\nnetwork_module = "lycoris.kohya"\n`,
      '/opt/sd-scripts',
    );
    assert.deepEqual(f, {
      baseModel: '/opt/sd-scripts/models/sd xl ベース.safetensors',
      outputDir: '/out/my lora',
      outputName: 'tk',
      networkModule: 'lycoris.kohya',
      samplePrompts: '/opt/sd-scripts/prompts/サンプル.txt',
      mixedPrecision: 'bf16',
      sdpa: true,
    });
  });

  it('reads .txt, .toml and .json sample prompts like sd-scripts', () => {
    const txt = parseTestPrompts('# comment\n\ntk girl, smile --w 1024 --h 1024 --d 5 --am 0.5\n  少女, 笑顔  --n lowres\n', 'p.txt');
    assert.ok(txt.ok);
    assert.deepEqual(txt.prompts, [
      { text: 'tk girl, smile', options: ' --w 1024 --h 1024 --d 5 --am 0.5' },
      { text: '少女, 笑顔', options: ' --n lowres' },
    ]);
    const toml = parseTestPrompts('[prompt]\nnegative_prompt = "bad"\nwidth = 1024\n[[prompt.subset]]\nprompt = "a"\nseed = 7\n[[prompt.subset]]\nprompt = "b"\n', 'p.toml');
    assert.ok(toml.ok);
    assert.deepEqual(toml.prompts, [
      { text: 'a', options: ' --n bad --w 1024 --d 7' },
      { text: 'b', options: ' --n bad --w 1024' },
    ]);
    const json = parseTestPrompts('["x --d 3", {"prompt": "y", "height": 768}]', 'p.json');
    assert.ok(json.ok);
    assert.deepEqual(json.prompts.map((p) => p.text), ['x', 'y']);
    const bad = parseTestPrompts('# only a comment\n', 'p.txt');
    assert.equal(bad.ok, false);
    const variants = parseTestPrompts('a {red|blue} dress\n', 'p.txt');
    assert.ok(variants.ok && variants.warnings.length === 1);
    assert.equal(parseTestPrompts('[prompt\n', 'p.toml').ok, false);
  });

  it('writes one prompt line per checkpoint × prompt × strength with a fixed seed and the --am vector', () => {
    const prompts = [
      { text: 'tk girl', options: ' --w 832 --am 0.9' },
      { text: '少女', options: ' --d 99 --n lowres' },
    ];
    const r = buildTestPlan(prompts, [0.5, 1], ['/o/tk-000002.safetensors', '/o/tk.safetensors'], 1234);
    assert.ok(r.ok);
    const lines = r.plan.promptFile.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(lines, [
      'tk girl --w 832 --d 1234 --am 0.5,0',
      'tk girl --w 832 --d 1234 --am 1,0',
      '少女 --d 99 --n lowres --am 0.5,0',
      '少女 --d 99 --n lowres --am 1,0',
      'tk girl --w 832 --d 1234 --am 0,0.5',
      'tk girl --w 832 --d 1234 --am 0,1',
      '少女 --d 99 --n lowres --am 0,0.5',
      '少女 --d 99 --n lowres --am 0,1',
    ]);
    assert.deepEqual(r.plan.epochs, [2, null]);
    assert.deepEqual(r.plan.lines[5], { seq: 6, prompt: 0, strength: 1, checkpoint: 1, text: 'tk girl' });
    assert.deepEqual(DEFAULT_STRENGTHS, [0.2, 0.4, 0.6, 0.8, 1.0]);
    assert.equal(buildTestPlan(prompts, [0.5], ['/o/a.safetensors', '/o/b.safetensors'], 1).ok, false, 'two finals cannot be told apart');
    assert.equal(buildTestPlan(prompts, [Number.NaN], ['/o/a.safetensors'], 1).ok, false);
    assert.equal(buildTestPlan([], [1], ['/o/a.safetensors'], 1).ok, false);
  });

  it('builds the gen_img argv: paths with spaces and CJK and a hostile value stay single arguments, no shell', () => {
    const hostile = 'x; rm -rf ~';
    const r = buildTestLoraCommand(
      {
        def: { config: 'c.toml', steps: 20, args: ['--negative_scale', hostile] },
        facts: { mixedPrecision: 'bf16', xformers: true, networkModule: 'networks.lora' },
        checkpoints: ['/out/my lora/tk-000001.safetensors', '/out/my lora/ティーケー.safetensors'],
        baseModel: '/models/sd xl/ベース.safetensors',
        outdir: '/out/my lora/lora_test',
        promptFilePath: '/out/my lora/lora_test/lora_test_prompts.txt',
      },
      { sdScriptsDir: '/opt/sd scripts', python: '/opt/sd scripts/venv/bin/python', venvDir: '/opt/sd scripts/venv', baseEnv: { PATH: '/usr/bin', HOME: '/h' }, platform: 'linux' },
    );
    assert.ok(r.ok);
    assert.equal(r.spec.command, '/opt/sd scripts/venv/bin/python');
    assert.equal(r.spec.cwd, '/opt/sd scripts');
    assert.deepEqual(r.spec.args, [
      '/opt/sd scripts/sdxl_gen_img.py',
      '--ckpt', '/models/sd xl/ベース.safetensors',
      '--outdir', '/out/my lora/lora_test',
      '--from_file', '/out/my lora/lora_test/lora_test_prompts.txt',
      '--sequential_file_name',
      '--images_per_prompt', '1',
      '--steps', '20',
      '--sampler', 'euler_a',
      '--W', '1024',
      '--H', '1024',
      '--seed', '1234',
      '--bf16',
      '--xformers',
      '--network_module', 'networks.lora', 'networks.lora',
      '--network_weights', '/out/my lora/tk-000001.safetensors', '/out/my lora/ティーケー.safetensors',
      '--network_mul', '1.0', '1.0',
      '--negative_scale', hostile,
    ]);
    assert.equal(r.spec.env['PATH'], '/opt/sd scripts/venv/bin:/usr/bin');
    assert.equal(r.spec.env['PYTHONUNBUFFERED'], '1');
    assert.equal(buildTestLoraCommand({ def: { config: 'c', steps: 1.5 }, facts: {}, checkpoints: ['/a'], baseModel: '/b', outdir: '/o', promptFilePath: '/p' }, { sdScriptsDir: '/s' }).ok, false);
  });
});

describe('Test the LoRA: images → lora_test.json', () => {
  it('reads gen_img’s sequential names (also with highres fix)', () => {
    assert.deepEqual(parseGenImgSequence('im_000012.png'), { seq: 12, stage: 'final' });
    assert.deepEqual(parseGenImgSequence('im_1000012.png'), { seq: 12, stage: 'final' });
    assert.deepEqual(parseGenImgSequence('im_0000012.png'), { seq: 12, stage: 'first' });
    assert.equal(parseGenImgSequence('im_20260216120000_000_42.png'), undefined);
    assert.equal(parseGenImgSequence('im_000012.jpg'), undefined);
  });

  it('reads PNG text chunks (tEXt and UTF-8 iTXt) as PIL writes them', () => {
    const png = pngWithText({ prompt: '少女, 笑顔', seed: '42', 'negative-prompt': 'lowres' });
    assert.deepEqual(readPngTextChunks(png), { prompt: '少女, 笑顔', seed: '42', 'negative-prompt': 'lowres' });
    assert.deepEqual(readPngTextChunks(png.subarray(0, 40)), {});
    assert.deepEqual(readPngTextChunks(new TextEncoder().encode('not a png')), {});
  });

  it('places each image by its sequence number, skips stale files and images whose prompt text disagrees', () => {
    const r = buildTestPlan([{ text: 'a', options: '' }, { text: 'b', options: '' }], [0.4, 1], ['/o/x-000003.safetensors'], 1);
    assert.ok(r.ok);
    const files: FoundImage[] = [
      { file: 'im_000001.png', mtimeMs: 2000, promptText: 'a' },
      { file: 'im_000002.png', mtimeMs: 2000 },
      { file: 'im_000003.png', mtimeMs: 2000, promptText: 'WRONG' },
      { file: 'im_000004.png', mtimeMs: 500, promptText: 'b' },
      { file: 'im_000009.png', mtimeMs: 2000 },
      { file: 'notes.png', mtimeMs: 2000 },
    ];
    const m = mapTestImages(r.plan, files, 1000);
    assert.deepEqual(m.json, {
      version: 1,
      prompts: ['a', 'b'],
      strengths: [0.4, 1],
      epochs: [3],
      images: [
        { prompt: 0, strength: 0.4, epoch: 3, file: 'im_000001.png' },
        { prompt: 0, strength: 1, epoch: 3, file: 'im_000002.png' },
      ],
    });
    assert.deepEqual(m.mismatched, ['im_000003.png']);
  });

  it('maps what the gen_img stand-in writes for a real plan: every image shows the strength and epoch it is filed under', (t) => {
    const dir = tempDir(t);
    const out = path.join(dir, 'out put', 'lora_test');
    mkdirSync(out, { recursive: true });
    const ckpts = ['tk-000001.safetensors', 'tk-000002.safetensors', 'tk.safetensors'].map((n) => path.join(dir, 'out put', n));
    for (const c of ckpts) writeFileSync(c, 'x');
    const base = path.join(dir, 'ベース モデル.safetensors');
    writeFileSync(base, 'x');
    const prompts = parseTestPrompts('tk girl, smile --w 1024\n少女 --d 7\n', 'p.txt');
    assert.ok(prompts.ok);
    const plan = buildTestPlan(prompts.prompts, DEFAULT_STRENGTHS, ckpts, 1234);
    assert.ok(plan.ok);
    const promptFile = path.join(out, 'lora_test_prompts.txt');
    writeFileSync(promptFile, plan.plan.promptFile);
    const cmd = buildTestLoraCommand({ def: { config: 'c' }, facts: {}, checkpoints: ckpts, baseModel: base, outdir: out, promptFilePath: promptFile }, { sdScriptsDir: dir, python: process.execPath, platform: 'linux' });
    assert.ok(cmd.ok);
    const since = Date.now() - 1;
    const [script, ...rest] = cmd.spec.args;
    assert.equal(script, path.join(dir, 'sdxl_gen_img.py'));
    const r = spawnSync(process.execPath, [FAKE_GEN_IMG, ...rest, '--fake_step_ms', '0'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const found: FoundImage[] = readdirSync(out)
      .filter((n) => n.endsWith('.png'))
      .map((n) => ({ file: n, mtimeMs: statSync(path.join(out, n)).mtimeMs, promptText: readPngTextChunks(readFileSync(path.join(out, n)))['prompt'] }));
    const m = mapTestImages(plan.plan, found, since);
    assert.equal(m.json.images.length, 2 * 5 * 3);
    assert.deepEqual(m.mismatched, []);
    assert.deepEqual(m.json.epochs, [1, 2, null]);
    for (const img of m.json.images) {
      const chunks = readPngTextChunks(readFileSync(path.join(out, img.file)));
      const ci = m.json.epochs.indexOf(img.epoch);
      const muls = (chunks['lwb-fake-am'] ?? '').split(',').map(Number);
      assert.equal(muls[ci], img.strength, img.file);
      assert.ok(muls.every((x, k) => k === ci || x === 0), img.file);
      assert.equal(chunks['prompt'], m.json.prompts[img.prompt]);
      assert.equal(chunks['seed'], img.prompt === 1 ? '7' : '1234', 'the seed is the same for every strength and epoch of a prompt');
    }
  });
});

describe('Create Accelerate Config form', () => {
  it('reads the GPU and CPU-thread answers', () => {
    assert.deepEqual(parseGpuSelection(' all '), { ok: true, gpus: 'all' });
    assert.deepEqual(parseGpuSelection('1, 0 ,1'), { ok: true, gpus: [0, 1] });
    assert.equal(parseGpuSelection('gpu0').ok, false);
    assert.deepEqual(parseCpuThreads('8'), { ok: true, threads: 8 });
    assert.equal(parseCpuThreads('0').ok, false);
    assert.equal(parseCpuThreads('2.5').ok, false);
  });

  it('writes a YAML file of accelerate’s keys only, with the answers in a comment', () => {
    const r = accelerateConfigFile({ gpus: [0, 1], mixedPrecision: 'bf16' }, 8);
    assert.ok(r.ok);
    const lines = r.yaml.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^# accelerate config written by LoRA Workbench/);
    assert.match(lines[1] ?? '', /^# GPU 0, 1, mixed precision bf16; CPU threads per process: 8/);
    const keys = Object.fromEntries(lines.filter((l) => !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    assert.equal(keys['distributed_type'], 'MULTI_GPU');
    assert.equal(keys['num_processes'], '2');
    assert.equal(keys['gpu_ids'], "'0,1'");
    assert.equal(keys['mixed_precision'], 'bf16');
    assert.ok(!('num_cpu_threads_per_process' in keys), 'accelerate rejects unknown keys');
    const single = accelerateConfigFile({ gpus: 'all', mixedPrecision: 'no' });
    assert.ok(single.ok);
    assert.match(single.yaml, /distributed_type: 'NO'/);
    assert.match(single.yaml, /mixed_precision: 'no'/);
  });

  it('passes the CPU threads setting to accelerate launch', () => {
    const fs = { isFile: () => false, isDirectory: () => false };
    const r = resolveTrainingLaunch({ config: 'c.toml' }, { settings: { sdScriptsFolder: '/sd', accelerate: '/bin/accelerate', numCpuThreadsPerProcess: 8 }, baseDir: '/ws', fs });
    assert.ok(r.ok);
    assert.deepEqual(r.spec.args.slice(0, 3), ['launch', '--num_cpu_threads_per_process=8', 'sdxl_train_network.py']);
  });
});
