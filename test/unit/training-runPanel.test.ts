import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { alignSeries, downsampleMinMax, groupTags, sampleGrid, smoothEma } from '../../src/core/training/chartMath';
import { inspectFolder, isInside, LiveRunSeries, parseLoraTest, readLoraTest, readRunLocations, readSamplePrompts, runsForLocations } from '../../src/core/training/runPanel';
import { listSamples } from '../../src/core/training/runs';
import { encodeEvent, frameRecord } from '../../src/core/training/tfevents';
import { tempDir } from './helpers';
import { LORA_14 } from './training-helpers';

describe('smoothing (TensorBoard debiased EMA)', () => {
  it('leaves values alone at weight 0', () => {
    assert.deepEqual(Array.from(smoothEma([3, 1, 2], 0)), [3, 1, 2]);
  });
  it('starts at the first value (debiased) and follows the EMA', () => {
    const w = 0.6;
    const s = smoothEma([1, 2, 3], w);
    assert.ok(Math.abs((s[0] as number) - 1) < 1e-12, 'no pull towards 0 at the start');
    // by hand: last1 = 0.4, last2 = 0.4*0.6 + 0.4*2 = 1.04, debias 1 - 0.36 = 0.64
    assert.ok(Math.abs((s[1] as number) - 1.04 / 0.64) < 1e-12);
    const last3 = 1.04 * 0.6 + 0.4 * 3;
    assert.ok(Math.abs((s[2] as number) - last3 / (1 - 0.216)) < 1e-12);
  });
  it('a constant series stays constant; NaN passes through without poisoning the rest', () => {
    assert.deepEqual(Array.from(smoothEma([5, 5, 5, 5], 0.9)).map((v) => Math.round(v * 1e9) / 1e9), [5, 5, 5, 5]);
    const s = smoothEma([1, NaN, 1], 0.5);
    assert.ok(Number.isNaN(s[1]));
    assert.equal(Math.round((s[2] as number) * 1e9) / 1e9, 1);
  });
});

describe('min/max downsampling', () => {
  it('returns small series unchanged', () => {
    const d = downsampleMinMax([1, 2, 3], [4, 5, 6], 10);
    assert.deepEqual([Array.from(d.xs), Array.from(d.ys)], [[1, 2, 3], [4, 5, 6]]);
  });
  it('keeps at most 4 points per column and every spike', () => {
    const n = 100_000;
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      xs[i] = i;
      ys[i] = Math.sin(i / 1000);
    }
    ys[31_337] = 50; // a spike
    ys[77_777] = -50;
    const d = downsampleMinMax(xs, ys, 500);
    assert.ok(d.length <= 500 * 4 + 4, `${d.length} points`);
    assert.ok(d.length > 500, 'one point per column at least');
    const y = Array.from(d.ys);
    assert.equal(Math.max(...y), 50);
    assert.equal(Math.min(...y), -50);
    // x stays sorted, the first and the last point are kept
    for (let i = 1; i < d.length; i++) assert.ok((d.xs[i] as number) >= (d.xs[i - 1] as number));
    assert.equal(d.xs[0], 0);
    assert.equal(d.xs[d.length - 1], n - 1);
  });
  it('limits to a visible range, with one point beyond each edge', () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    const d = downsampleMinMax(xs, xs, 100, 10, 20);
    assert.deepEqual(Array.from(d.xs), [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
  });
});

describe('aligning series for one chart', () => {
  it('merges x values and fills gaps with null', () => {
    const a = alignSeries([
      { xs: [1, 3], ys: [10, 30] },
      { xs: [2, 3], ys: [NaN, 33] },
    ]);
    assert.deepEqual(a, [[1, 2, 3], [10, null, 30], [null, null, 33]]);
  });
});

describe('chart groups', () => {
  it('groups sd-scripts tags into charts', () => {
    const g = groupTags(['lr/unet', 'loss/current', 'loss/average', 'loss/epoch_average', 'lr/textencoder', 'loss/validation/step_average', 'loss/validation/epoch_average', 'max_norm/keys_scaled']);
    assert.deepEqual(
      g.map((x) => [x.id, x.xLabel, x.tags]),
      [
        ['loss', 'step', ['loss/current', 'loss/average']],
        ['lossEpoch', 'epoch', ['loss/epoch_average']],
        ['validation', 'step', ['loss/validation/step_average']],
        ['validationEpoch', 'epoch', ['loss/validation/epoch_average']],
        ['lr', 'step', ['lr/unet', 'lr/textencoder']],
        ['other:max_norm', 'step', ['max_norm/keys_scaled']],
      ],
    );
  });
});

describe('sample grid', () => {
  it('puts sd-scripts sample names into prompt × epoch/step cells', (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, 'sample'));
    const names = [
      'tk_e000000_00_20260216120000_42.png',
      'tk_e000000_01_20260216120001_42.png',
      'tk_e000001_00_20260216120100_42.png',
      'tk_e000002_01_20260216120200_42.png',
      'tk_e000002_00_20260216120200_42.png',
      'not-a-sample.png',
    ];
    for (const n of names) writeFileSync(path.join(dir, 'sample', n), '');
    const g = sampleGrid(listSamples(dir));
    assert.deepEqual(g.columns.map((c) => c.label), ['epoch 0', 'epoch 1', 'epoch 2']);
    assert.deepEqual(g.prompts, [0, 1]);
    const cell = (r: number, c: number): string | undefined => (g.cells[r]?.[c] ? path.basename(g.cells[r]?.[c]?.file as string) : undefined);
    assert.equal(cell(0, 1), 'tk_e000001_00_20260216120100_42.png');
    assert.equal(cell(1, 1), undefined, 'prompt 1 has no sample at epoch 1');
    assert.equal(cell(1, 2), 'tk_e000002_01_20260216120200_42.png');
  });
  it('orders step columns by step and keeps the newest file of a cell', () => {
    const s = (step: number, ts: string, file: string) => ({ file, trigger: 'step' as const, step, promptIndex: 0, timestamp: ts });
    const g = sampleGrid([s(1000, '20260101000300', 'c'), s(500, '20260101000200', 'a'), s(500, '20260101000900', 'b')]);
    assert.deepEqual(g.columns.map((c) => c.key), ['s500', 's1000']);
    assert.equal(g.cells[0]?.[0]?.file, 'b');
  });
});

describe('run locations from a training config', () => {
  it('reads output_dir, logging_dir, output_name, log_prefix; relative paths from the base folder', () => {
    const loc = readRunLocations(
      '[training_arguments]\noutput_dir = "out put"\noutput_name = "tk"\n[logging_arguments]\nlogging_dir = "/abs/logs"\nlog_prefix = "tk_"\n',
      '/w/cfg.toml',
      '/sd',
    );
    assert.deepEqual(loc, { config: '/w/cfg.toml', outputDir: path.resolve('/sd/out put'), outputName: 'tk', loggingDir: '/abs/logs', logPrefix: 'tk_' });
  });
  it('names the file when the TOML is broken', () => {
    const loc = readRunLocations('output_dir = "x\n[[[', '/w/broken.toml', '/sd');
    assert.match(loc.error ?? '', /broken\.toml is not valid TOML/);
  });
  it('finds the runs of a logging_dir, preferring the config’s log_prefix', (t) => {
    const dir = tempDir(t);
    for (const r of ['tk_20260101120000', 'other_20260101130000']) {
      mkdirSync(path.join(dir, r, 'network_train'), { recursive: true });
      copyFileSync(LORA_14, path.join(dir, r, 'network_train', path.basename(LORA_14)));
    }
    assert.equal(runsForLocations({ loggingDir: dir }).length, 2);
    assert.deepEqual(runsForLocations({ loggingDir: dir, logPrefix: 'tk_' }).map((r) => r.prefix), ['tk_']);
    const f = inspectFolder(dir);
    assert.equal(f.runs.length, 2);
    assert.equal(f.isOutput, false);
  });
  it('recognises an output folder and an empty one', (t) => {
    const dir = tempDir(t);
    assert.deepEqual(inspectFolder(dir), { dir, runs: [], isOutput: false });
    writeFileSync(path.join(dir, 'tk-000001.safetensors'), '');
    assert.equal(inspectFolder(dir).isOutput, true);
  });
  it('reads the prompt texts of .txt, .toml and .json sample prompt files in sd-scripts’ order', (t) => {
    const dir = tempDir(t);
    const txt = path.join(dir, 'p.txt');
    writeFileSync(txt, '# comment\n\ntk girl, smile --w 1024 --h 1024 --d 42\n  tk girl, beach --n lowres\n');
    assert.deepEqual(readSamplePrompts(txt), ['tk girl, smile', 'tk girl, beach']);
    const toml = path.join(dir, 'p.toml');
    writeFileSync(toml, '[prompt]\nwidth = 1024\n[[prompt.subset]]\nprompt = "first"\n[[prompt.subset]]\nprompt = "second"\nseed = 1\n');
    assert.deepEqual(readSamplePrompts(toml), ['first', 'second']);
    const json = path.join(dir, 'p.json');
    writeFileSync(json, JSON.stringify(['a --d 1', { prompt: 'b' }]));
    assert.deepEqual(readSamplePrompts(json), ['a', 'b']);
    assert.deepEqual(readSamplePrompts(path.join(dir, 'missing.txt')), []);
  });
  it('isInside', () => {
    assert.equal(isInside('/a/b', '/a/b/c.png'), true);
    assert.equal(isInside('/a/b', '/a/bc'), false);
    assert.equal(isInside('/a/b', '/a/b/../c'), false);
  });
});

describe('live series', () => {
  it('hands out only new points, a snapshot hands out all; a partly written record waits', (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'events.out.tfevents.1.host.1.0');
    writeFileSync(file, frameRecord(encodeEvent({ wallTime: 1, fileVersion: 'brain.Event:2' })));
    const live = new LiveRunSeries(dir);
    assert.deepEqual(live.poll().deltas, []);
    appendFileSync(file, frameRecord(encodeEvent({ wallTime: 2, step: 1, scalars: [{ tag: 'loss/current', value: 0.5 }] })));
    const rec = frameRecord(encodeEvent({ wallTime: 3, step: 2, scalars: [{ tag: 'loss/current', value: 0.25 }] }));
    appendFileSync(file, rec.subarray(0, 10));
    let d = live.poll().deltas;
    assert.deepEqual(d, [{ tag: 'loss/current', steps: [1], wallTimes: [2], values: [0.5] }]);
    appendFileSync(file, rec.subarray(10));
    d = live.poll().deltas;
    assert.deepEqual(d, [{ tag: 'loss/current', steps: [2], wallTimes: [3], values: [0.25] }]);
    assert.deepEqual(live.poll().deltas, []);
    assert.deepEqual(live.snapshot().deltas[0]?.steps, [1, 2]);
    assert.deepEqual(live.poll().deltas, []);
  });
  it('reports a corrupt record by file and offset and keeps the good ones', (t) => {
    const dir = tempDir(t);
    const buf = Buffer.from(readFileSync(LORA_14));
    buf[buf.length - 6] = (buf[buf.length - 6] as number) ^ 0xff; // inside the last record's data
    writeFileSync(path.join(dir, path.basename(LORA_14)), buf);
    const live = new LiveRunSeries(dir);
    const r = live.snapshot();
    assert.equal(r.corrupt.length, 1);
    assert.match(r.corrupt[0]?.reason ?? '', /CRC/);
    assert.ok(r.deltas.some((x) => x.tag === 'loss/current' && x.steps.length >= 13));
  });
});

describe('lora_test.json', () => {
  const good = {
    version: 1,
    prompts: ['tk girl, smile', 'tk girl, beach'],
    strengths: [0.2, 0.6, 1],
    epochs: [null, 3],
    images: [
      { prompt: 0, strength: 0.2, epoch: null, file: 'final/p0_s0.2.png' },
      { prompt: 1, strength: 1, epoch: 3, file: 'e3/p1_s1.png' },
    ],
  };
  it('reads a valid file; image paths are relative to lora_test/', (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, 'lora_test', 'final'), { recursive: true });
    writeFileSync(path.join(dir, 'lora_test', 'final', 'p0_s0.2.png'), '');
    writeFileSync(path.join(dir, 'lora_test', 'lora_test.json'), JSON.stringify(good));
    const r = readLoraTest(dir);
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.results.epochs, [null, 3]);
    assert.equal(r.results.images[0]?.file, path.join(dir, 'lora_test', 'final', 'p0_s0.2.png'));
    assert.equal(r.results.images[0]?.exists, true);
    assert.equal(r.results.images[1]?.exists, false);
  });
  it('says when it is missing, and what is wrong when it is invalid', (t) => {
    const dir = tempDir(t);
    const missing = readLoraTest(dir);
    assert.equal(missing.ok, false);
    assert.equal(!missing.ok && missing.missing, true);
    const f = '/o/lora_test/lora_test.json';
    const err = (x: unknown): string => {
      const r = parseLoraTest(typeof x === 'string' ? x : JSON.stringify(x), f);
      return r.ok ? 'ok' : r.error;
    };
    assert.match(err('{"version":1,'), /lora_test\.json: not valid JSON/);
    assert.match(err({ ...good, version: 2 }), /unsupported version 2/);
    assert.match(err({ ...good, prompts: [1] }), /"prompts" must be a list of strings/);
    assert.match(err({ ...good, images: [{ prompt: 5, strength: 1, epoch: null, file: 'a.png' }] }), /images\[0\]\.prompt must be an index/);
    assert.match(err({ ...good, images: [{ prompt: 0, strength: 1, epoch: null, file: '../../etc/passwd' }] }), /points outside the lora_test folder/);
    assert.equal(err(good), 'ok');
  });
});
