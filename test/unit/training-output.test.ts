import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  parseTqdm,
  parseTqdmTime,
  parseTrainingOutput,
  TrainingOutputParser,
  type OutputEvent,
} from '../../src/core/training/output';
import { LOG_520, LOG_NAN, prng } from './training-helpers';

function ofType<T extends OutputEvent['type']>(events: OutputEvent[], type: T): Extract<OutputEvent, { type: T }>[] {
  return events.filter((e): e is Extract<OutputEvent, { type: T }> => e.type === type);
}

describe('tqdm lines', () => {
  it('reads the non-TTY bar of the reference', () => {
    const r = parseTqdm('steps:   0%|          | 3/1600 [00:00<05:22,  4.96it/s, avr_loss=0.123]');
    assert.ok(r);
    assert.deepEqual(r.progress, {
      desc: 'steps',
      step: 3,
      total: 1600,
      percent: 0,
      elapsed: 0,
      eta: 322,
      rate: 4.96,
      rateText: '4.96it/s',
      postfix: { avr_loss: '0.123' },
      avrLoss: 0.123,
    });
  });
  it('reads the first update, s/it, hours and the Colab form without a bar', () => {
    const first = parseTqdm('steps:   0%|          | 0/1600 [00:00<?, ?it/s]')?.progress;
    assert.equal(first?.eta, undefined);
    assert.equal(first?.rate, undefined);
    assert.equal(first?.avrLoss, undefined);
    const slow = parseTqdm('steps:   1%|▋          | 41/3280 [00:50<1:06:54,  1.24s/it, avr_loss=nan]')?.progress;
    assert.equal(slow?.eta, 4014);
    assert.equal(slow?.rate, 1 / 1.24);
    assert.ok(Number.isNaN(slow?.avrLoss));
    const colab = parseTqdm('steps:  10% 52/520 [05:40<51:05,  6.55s/it, avr_loss=0.0993]')?.progress;
    assert.deepEqual([colab?.step, colab?.total, colab?.elapsed, colab?.eta, colab?.avrLoss], [52, 520, 340, 3065, 0.0993]);
  });
  it('reads every postfix field (--scale_weight_norms) and other bars', () => {
    const p = parseTqdm('steps:  50%|█████     | 5/10 [00:01<00:01,  3.00it/s, Average key norm=0.412, Keys Scaled=12, avr_loss=0.1]')?.progress;
    assert.deepEqual(p?.postfix, { 'Average key norm': '0.412', 'Keys Scaled': '12', avr_loss: '0.1' });
    assert.equal(parseTqdm('100% 13/13 [00:16<00:00,  1.28s/it]')?.progress.desc, '');
    assert.equal(parseTqdm('validation steps: 100%|██████████| 4/4 [00:01<00:00,  3.1it/s, timestep=500, val_avg_loss=0.2]')?.progress.desc, 'validation steps');
    assert.equal(parseTqdm('epoch 1/10'), undefined);
    assert.equal(parseTqdm('vocab.json: 961kB [00:00, 37.7MB/s]'), undefined);
  });
  it('converts tqdm times', () => {
    assert.equal(parseTqdmTime('05:22'), 322);
    assert.equal(parseTqdmTime('1:06:54'), 4014);
    assert.equal(parseTqdmTime('?'), undefined);
  });
});

describe('the real 520-step SDXL LoRA log', () => {
  const text = readFileSync(LOG_520);
  const whole = parseTrainingOutput(text);

  it('finds the training block, every epoch, checkpoint and the end', () => {
    const { events, state } = whole;
    assert.deepEqual(ofType(events, 'trainingStart').map((e) => e.info), [
      { trainImages: 156, regImages: 0, batchesPerEpoch: 52, epochs: 10, batchSize: '3', gradientAccumulationSteps: 1, totalSteps: 520 },
    ]);
    assert.deepEqual(ofType(events, 'epoch').map((e) => [e.epoch, e.totalEpochs]), Array.from({ length: 10 }, (_, i) => [i + 1, 10]));
    assert.deepEqual(
      ofType(events, 'checkpoint').map((e) => e.path),
      Array.from({ length: 10 }, (_, i) => `/content/drive/MyDrive/Loras/Aldar_Kose/output/Aldar_Kose-${String(i + 1).padStart(2, '0')}.safetensors`),
    );
    assert.equal(ofType(events, 'modelSaved').length, 1);
    assert.equal(state.modelSaved, true);
    assert.deepEqual(state.failures, []);
    assert.equal(ofType(events, 'failure').length, 0);
    assert.equal(state.epoch, 10);
    assert.equal(state.totalEpochs, 10);
  });

  it('reads the training progress with exact numbers, and only the training bar', () => {
    const progress = ofType(whole.events, 'progress').map((e) => e.progress);
    assert.deepEqual(progress.map((p) => p.step), [0, 52, 104, 156, 208, 260, 312, 364, 416, 468, 520, 520]);
    assert.deepEqual(
      progress.map((p) => p.avrLoss),
      [undefined, 0.0993, 0.11, 0.0995, 0.109, 0.0992, 0.123, 0.0932, 0.0999, 0.0928, 0.0921, 0.0921],
    );
    assert.ok(progress.every((p) => p.desc === 'steps' && p.total === 520));
    const last = whole.state.progress;
    assert.deepEqual([last?.step, last?.percent, last?.elapsed, last?.eta, last?.rateText], [520, 100, 3418, 0, '6.57s/it']);
    assert.equal(last?.rate, 1 / 6.57);
    const tenth = progress[1];
    assert.deepEqual([tenth?.elapsed, tenth?.eta], [5 * 60 + 40, 51 * 60 + 5]);
  });

  it('gives the same events when fed in random chunks of bytes (split UTF-8 included)', () => {
    for (const seed of [1, 2, 3]) {
      const rnd = prng(seed);
      const p = new TrainingOutputParser();
      const events: OutputEvent[] = [];
      for (let i = 0; i < text.length; ) {
        const n = 1 + Math.floor(rnd() * 64);
        events.push(...p.push(text.subarray(i, i + n)));
        i += n;
      }
      events.push(...p.end());
      assert.deepEqual(events, whole.events, `seed ${seed}`);
    }
  });

  it('keeps the last lines for a notification, with tqdm updates collapsed', () => {
    const tail = whole.state.tail;
    assert.deepEqual(tail.slice(-3), [
      'saving checkpoint: /content/drive/MyDrive/Loras/Aldar_Kose/output/Aldar_Kose-10.safetensors',
      'model saved.',
      'steps: 100% 520/520 [56:58<00:00,  6.57s/it, avr_loss=0.0921]',
    ]);
    assert.equal(tail.length, 40);
    assert.ok(tail.includes('epoch is incremented. current_epoch: 9, epoch: 10'));
    assert.ok(tail.every((l, i) => i === 0 || !(l.startsWith('steps:') && tail[i - 1]?.startsWith('steps:'))));
  });
});

describe('the real NaN-loss log (sd-scripts issue 2137)', () => {
  it('reports NaN loss once, at the first step it shows, with what to do', () => {
    const { events, state } = parseTrainingOutput(readFileSync(LOG_NAN, 'utf8'));
    const failures = ofType(events, 'failure');
    assert.equal(failures.length, 1);
    const f = failures[0]!.failure;
    assert.equal(f.kind, 'nanLoss');
    assert.match(f.message, /avr_loss=nan at step 41\/3280/);
    assert.match(f.hint, /bf16/);
    assert.match(f.hint, /learning rate/);
    assert.deepEqual(ofType(events, 'progress').map((e) => e.progress.step), [41, 82, 123, 164, 205]);
    assert.deepEqual(ofType(events, 'epoch').map((e) => e.epoch), [2, 3, 4, 5, 6]);
    assert.equal(state.totalEpochs, 80);
    assert.ok(Number.isNaN(state.progress?.avrLoss));
  });
});

describe('errors and known failures', () => {
  it('collects a traceback and names CUDA out of memory', () => {
    const p = new TrainingOutputParser();
    const events = [
      ...p.push('\rsteps:  10%|█         | 2/20 [00:03<00:27,  1.50s/it, avr_loss=0.12]\nTraceback (most recent call last):\n'),
      ...p.push('  File "sdxl_train_network.py", line 184, in <module>\n    trainer.train(args)\n'),
      ...p.push('torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.\n'),
      ...p.end(),
    ];
    const tb = ofType(events, 'traceback');
    assert.equal(tb.length, 1);
    assert.equal(tb[0]?.exception, 'torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.');
    assert.equal(tb[0]?.lines.length, 4);
    const f = ofType(events, 'failure').map((e) => e.failure);
    assert.deepEqual(f.map((x) => x.kind), ['cudaOutOfMemory']);
    assert.match(f[0]?.hint ?? '', /train_batch_size/);
    assert.match(f[0]?.hint ?? '', /gradient_checkpointing/);
    assert.equal(p.state.progress?.step, 2);
    assert.deepEqual(tb[0]?.frames, [{ file: 'sdxl_train_network.py', line: 184, func: '<module>' }]);
  });

  it("keeps the script's traceback when accelerate reports the exit with its own", () => {
    const { state, events } = parseTrainingOutput(
      'Traceback (most recent call last):\n  File "/sd/train_network.py", line 326, in train\n    x()\nValueError: bad value\n' +
        'Traceback (most recent call last):\n  File "/sd/venv/bin/accelerate", line 8, in <module>\n    sys.exit(main())\n' +
        "subprocess.CalledProcessError: Command '['/sd/venv/bin/python', 'train_network.py']' returned non-zero exit status 1.\n",
    );
    assert.equal(ofType(events, 'traceback').length, 2);
    assert.equal(state.traceback?.exception, 'ValueError: bad value');
    assert.deepEqual(state.traceback?.frames, [{ file: '/sd/train_network.py', line: 326, func: 'train' }]);
  });

  it('names "No data found" with the folder layout to fix', () => {
    const { state } = parseTrainingOutput(
      'AssertionError: No data found. Please verify arguments (train_data_dir must be the parent of folders with images) / 画像がありません。\n',
    );
    assert.equal(state.failures[0]?.kind, 'noData');
    assert.match(state.failures[0]?.hint ?? '', /parent of the N_name folders/);
  });

  it('names the pip package of a missing module', () => {
    const cases: [string, string][] = [
      ["ModuleNotFoundError: No module named 'lycoris'", 'lycoris-lora'],
      ["ModuleNotFoundError: No module named 'bitsandbytes'", 'bitsandbytes'],
      ["ModuleNotFoundError: No module named 'prodigyopt'", 'prodigyopt'],
      ["ModuleNotFoundError: No module named 'cv2'", 'opencv-python'],
      ["ModuleNotFoundError: No module named 'some_new_pkg.sub'", 'some-new-pkg'],
    ];
    for (const [line, pkg] of cases) {
      const f = parseTrainingOutput(`${line}\n`).state.failures[0];
      assert.equal(f?.kind, 'missingModule', line);
      assert.equal(f?.package, pkg);
      assert.match(f?.hint ?? '', new RegExp(`pip install ${pkg.replace(/[.-]/g, '\\$&')}$`));
    }
    const own = parseTrainingOutput("ModuleNotFoundError: No module named 'library'\n").state.failures[0];
    assert.equal(own?.package, undefined);
    assert.match(own?.hint ?? '', /sd-scripts folder/);
  });

  it('names a missing file, a missing prompt file and fp16 without a GPU', () => {
    const kinds = (text: string): string[] => parseTrainingOutput(text).state.failures.map((f) => f.kind);
    assert.deepEqual(kinds("FileNotFoundError: [Errno 2] No such file or directory: '/models/sd_xl_base_1.0.safetensors'\n"), ['fileNotFound']);
    assert.match(parseTrainingOutput("FileNotFoundError: [Errno 2] No such file or directory: '/m/x.safetensors'\n").state.failures[0]?.message ?? '', /\/m\/x\.safetensors/);
    assert.deepEqual(kinds('No prompt file / プロンプトファイルがありません: /p/prompts.txt\n'), ['noPromptFile']);
    assert.deepEqual(kinds('ValueError: fp16 mixed precision requires a GPU (not \'mps\').\n'), ['fp16NeedsGpu']);
  });

  it('reads rich log lines (time, level and source columns) and ANSI colours', () => {
    const { events } = parseTrainingOutput(
      '2026-02-16 12:00:00 INFO     \x1b[1mepoch is incremented.\x1b[0m current_epoch: 0, epoch: 1       train_util.py:779\n' +
        '                    INFO     generating sample images at step / サンプル画像生成 ステップ: 500   train_util.py:5920\n' +
        '\nsaving checkpoint: /out/my lora-000001.safetensors\nremoving old checkpoint: /out/my lora-000000.safetensors\n',
    );
    assert.deepEqual(ofType(events, 'sampling').map((e) => e.step), [500]);
    assert.deepEqual(ofType(events, 'checkpoint').map((e) => e.path), ['/out/my lora-000001.safetensors']);
    assert.deepEqual(ofType(events, 'checkpointRemoved').map((e) => e.path), ['/out/my lora-000000.safetensors']);
  });

  it('handles \\r\\n split across chunks and text glued to a bar', () => {
    const p = new TrainingOutputParser();
    const ev = [
      ...p.push('steps:   0%|          | 0/4 [00:00<?, ?it/s]'),
      ...p.push('unet dtype: torch.float16\r'),
      ...p.push('\nepoch 1/2\r'),
      ...p.push('\n'),
      ...p.end(),
    ];
    assert.deepEqual(ev.map((e) => e.type), ['progress', 'epoch']);
    assert.ok(p.state.tail.includes('unet dtype: torch.float16'));
  });

  it('reports progress as soon as a bar is complete, before the next \\r', () => {
    const p = new TrainingOutputParser();
    const a = p.push('\rsteps:  25%|██▌       | 1/4 [00:01<00:03,  1.00it/s, avr_loss=0.5]');
    assert.deepEqual(a.map((e) => e.type), ['progress']);
    const b = p.push('\rsteps:  50%|█████     | 2/4 [00:02<00:02,  1.00it/s, avr_loss=0.4]');
    assert.deepEqual(ofType(b, 'progress').map((e) => e.progress.step), [2]);
    assert.deepEqual(p.state.tail, ['steps:  50%|█████     | 2/4 [00:02<00:02,  1.00it/s, avr_loss=0.4]']);
  });

  it('never throws on odd input', () => {
    const p = new TrainingOutputParser();
    const rnd = prng(9);
    for (let i = 0; i < 300; i++) {
      p.push(Uint8Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
      p.push(String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(rnd() * 0x3000))));
    }
    p.push('steps: 999%|| 99999999999999999999/1 [99:99<?, ?it/s]');
    p.end();
    assert.ok(p.state.tail.length <= 40);
  });
});
