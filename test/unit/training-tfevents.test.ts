import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { crc32c, maskCrc, maskedCrc32c } from '../../src/core/training/crc32c';
import {
  decodeEvent,
  encodeEvent,
  EventFileReader,
  EventFileWriter,
  eventFileName,
  findRuns,
  frameRecord,
  groupByTag,
  parseRecords,
  readEventFile,
  RunReader,
  SeriesCollector,
  type ScalarPoint,
} from '../../src/core/training/tfevents';
import { tempDir } from './helpers';
import { DREAMBOOTH, EMPTY_40, LORA_14, PYTORCH_DIR, TFEVENTS, prng, recordBoundaries } from './training-helpers';

/** bit-by-bit reference CRC-32C, independent of the table code */
function crcBitwise(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('CRC-32C', () => {
  it('matches the known check values (RFC 3720 B.4 and the standard check)', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });
  it('agrees with a bitwise implementation at every length and alignment', () => {
    const rnd = prng(7);
    const buf = Uint8Array.from({ length: 300 }, () => Math.floor(rnd() * 256));
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= buf.length; end += 1 + (end % 5)) {
        assert.equal(crc32c(buf, start, end), crcBitwise(buf.subarray(start, end)), `${start}..${end}`);
      }
    }
  });
  it('masks as TFRecord does', () => {
    assert.equal(maskCrc(0), 0xa282ead8);
    const c = crc32c(Buffer.from('abc'));
    assert.equal(maskedCrc32c(Buffer.from('abc')), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
  });
});

function countTags(points: readonly ScalarPoint[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points) out[p.tag] = (out[p.tag] ?? 0) + 1;
  return out;
}

describe('event files written by real tools', () => {
  it('reads the 14-step kohya LoRA run', () => {
    const r = readEventFile(LORA_14);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.corrupt, []);
    assert.equal(r.fileVersion, 'brain.Event:2');
    assert.equal(r.offset, statSync(LORA_14).size);
    assert.deepEqual(countTags(r.scalars), { 'loss/current': 14, 'loss/average': 14, 'lr/textencoder': 14, 'lr/unet': 14, 'lr/d*lr': 14 });
    const first = r.scalars[0];
    assert.equal(first?.tag, 'loss/current');
    assert.equal(first?.step, 1);
    assert.equal(first?.value, Math.fround(0.10269631));
    assert.ok(Math.abs((first?.wallTime ?? 0) - 1713030794.4509852) < 1e-6);
    const steps = r.scalars.filter((s) => s.tag === 'loss/average').map((s) => s.step);
    assert.deepEqual(steps, Array.from({ length: 14 }, (_, i) => i + 1));
    // loss/average in epoch 1 is the running mean of loss/current (sd-scripts' LossRecorder)
    const cur = r.scalars.filter((s) => s.tag === 'loss/current').map((s) => s.value);
    const avg = r.scalars.filter((s) => s.tag === 'loss/average').map((s) => s.value);
    const mean3 = (cur[0]! + cur[1]! + cur[2]!) / 3;
    assert.ok(Math.abs(avg[2]! - mean3) < 1e-6);
  });
  it('reads the older DreamBooth run', () => {
    const r = readEventFile(DREAMBOOTH);
    assert.deepEqual(r.corrupt, []);
    assert.deepEqual(countTags(r.scalars), { loss: 384, lr: 384, epoch_loss: 1 });
    assert.equal(r.offset, statSync(DREAMBOOTH).size);
  });
  it('reads the 40-byte file that holds only the header', () => {
    assert.equal(statSync(EMPTY_40).size, 40);
    const r = readEventFile(EMPTY_40);
    assert.deepEqual(r.scalars, []);
    assert.deepEqual(r.corrupt, []);
    assert.equal(r.error, undefined);
    assert.equal(r.offset, 40);
    assert.equal(r.fileVersion, 'brain.Event:2');
  });
  it('reads plain PyTorch SummaryWriter runs', () => {
    const runs = findRuns(PYTORCH_DIR);
    assert.equal(runs.length, 1);
    const counts = runs[0]!.files.map((f) => readEventFile(f).scalars.length);
    assert.deepEqual(counts, [0, 17, 40]);
    const r = readEventFile(runs[0]!.files[2]!);
    assert.deepEqual(countTags(r.scalars), { 'Loss/train': 40 });
    assert.equal(r.scalars[0]?.value, 2056.103515625);
  });
  it('never throws on a missing file or a folder', (t) => {
    const missing = readEventFile(path.join(tempDir(t), 'nope'));
    assert.match(missing.error ?? '', /ENOENT/);
    assert.deepEqual(missing.scalars, []);
    const folder = readEventFile(TFEVENTS);
    assert.ok(folder.error !== undefined);
  });
});

describe('damaged event files', () => {
  const full = readEventFile(LORA_14).scalars;
  const bytes = readFileSync(LORA_14);
  const ends = recordBoundaries(bytes);

  it('reads a file cut at every byte up to the last whole record, then the rest once appended', (t) => {
    const dir = tempDir(t);
    assert.equal(ends[ends.length - 1], bytes.length);
    for (let cut = 0; cut <= bytes.length; cut += cut < 200 ? 1 : 13) {
      const f = path.join(dir, `cut-${cut}`);
      writeFileSync(f, bytes.subarray(0, cut));
      const reader = new EventFileReader(f);
      const a = reader.read();
      const whole = ends.filter((e) => e <= cut);
      assert.deepEqual(a.corrupt, [], `cut ${cut}`);
      assert.equal(a.offset, whole.length ? whole[whole.length - 1] : 0, `cut ${cut}`);
      appendFileSync(f, bytes.subarray(cut));
      const b = reader.read();
      assert.deepEqual(b.corrupt, []);
      assert.deepEqual([...a.scalars, ...b.scalars], full, `cut ${cut}`);
      assert.equal(b.offset, bytes.length);
    }
  });

  it('reports a record whose data was changed, with file and offset, and reads the others', (t) => {
    const dir = tempDir(t);
    const k = 10; // a record in the middle
    const start = ends[k - 1]!;
    const bad = Buffer.from(bytes);
    bad[start + 20] = (bad[start + 20] as number) ^ 0x40;
    const f = path.join(dir, 'events.out.tfevents.1.corrupt.1.0');
    writeFileSync(f, bad);
    const r = readEventFile(f);
    assert.equal(r.corrupt.length, 1);
    assert.equal(r.corrupt[0]?.file, f);
    assert.equal(r.corrupt[0]?.offset, start);
    assert.match(r.corrupt[0]?.reason ?? '', /data .* fails its CRC/);
    const lost = parseRecords(bytes.subarray(start, ends[k]!)).scalars;
    assert.equal(lost.length, 1);
    assert.deepEqual(r.scalars, full.filter((s) => !(s.tag === lost[0]!.tag && s.step === lost[0]!.step && s.wallTime === lost[0]!.wallTime)));
  });

  it('finds the next record after a damaged length field', (t) => {
    const dir = tempDir(t);
    const k = 20;
    const start = ends[k - 1]!;
    const bad = Buffer.from(bytes);
    bad[start + 1] = 0x7f; // length becomes huge and no longer matches its CRC
    const f = path.join(dir, 'len');
    writeFileSync(f, bad);
    const r = readEventFile(f);
    assert.equal(r.corrupt.length, 1);
    assert.equal(r.corrupt[0]?.offset, start);
    assert.match(r.corrupt[0]?.reason ?? '', /length fails its CRC/);
    assert.equal(r.scalars.length, full.length - 1);
    assert.equal(r.offset, bytes.length);
  });

  it('skips garbage between records, also when it arrives in pieces', (t) => {
    const dir = tempDir(t);
    const at = ends[5]!;
    const garbage = Buffer.from('not a record at all, just noise!');
    const f = path.join(dir, 'garbage');
    writeFileSync(f, Buffer.concat([bytes.subarray(0, at), garbage.subarray(0, 10)]));
    const reader = new EventFileReader(f);
    const a = reader.read();
    appendFileSync(f, garbage.subarray(10));
    const b = reader.read();
    appendFileSync(f, bytes.subarray(at));
    const c = reader.read();
    const corrupt = [...a.corrupt, ...b.corrupt, ...c.corrupt];
    assert.equal(corrupt.length, 1);
    assert.equal(corrupt[0]?.offset, at);
    assert.deepEqual([...a.scalars, ...b.scalars, ...c.scalars], full);
  });

  it('never throws on random bytes', () => {
    const rnd = prng(42);
    for (let i = 0; i < 200; i++) {
      const buf = Uint8Array.from({ length: Math.floor(rnd() * 400) }, () => Math.floor(rnd() * 256));
      const r = parseRecords(buf);
      assert.ok(r.consumed <= buf.length);
      assert.equal(decodeEvent(buf) === undefined || typeof decodeEvent(buf) === 'object', true);
    }
    // valid framing around data that is not an Event
    const framed = frameRecord(Uint8Array.from([0xff, 0xff, 0xff]));
    const r = parseRecords(framed);
    assert.equal(r.corrupt.length, 1);
    assert.match(r.corrupt[0]?.reason ?? '', /not a TensorBoard Event/);
    assert.equal(r.consumed, framed.length);
  });

  it('starts again when the file is replaced by a shorter one', (t) => {
    const f = path.join(tempDir(t), 'e');
    writeFileSync(f, bytes);
    const reader = new EventFileReader(f);
    assert.equal(reader.read().scalars.length, full.length);
    writeFileSync(f, bytes.subarray(0, ends[2]));
    const again = reader.read();
    assert.equal(again.restarted, true);
    assert.equal(again.scalars.length, 2);
  });
});

describe('writing and incremental reading', () => {
  it('round-trips simple and tensor scalars, large steps and the file version', () => {
    const ev = decodeEvent(
      encodeEvent({
        wallTime: 1700000000.25,
        step: 2 ** 40 + 3,
        scalars: [{ tag: 'loss/current', value: 0.125 }, { tag: 'lr/unet', value: 1e-4 }],
        tensorScalars: [{ tag: 'loss/validation/epoch_average', value: 0.5 }, { tag: 'x/double', value: 0.1, dtype: 'double' }],
      }),
    );
    assert.deepEqual(ev, {
      wallTime: 1700000000.25,
      step: 2 ** 40 + 3,
      scalars: [
        { tag: 'loss/current', value: 0.125 },
        { tag: 'lr/unet', value: Math.fround(1e-4) },
        { tag: 'loss/validation/epoch_average', value: 0.5 },
        { tag: 'x/double', value: 0.1 },
      ],
    });
    assert.deepEqual(decodeEvent(encodeEvent({ wallTime: 1, fileVersion: 'brain.Event:2' })), { wallTime: 1, step: 0, fileVersion: 'brain.Event:2', scalars: [] });
    assert.equal(decodeEvent(encodeEvent({ wallTime: 1, step: -5 }))?.step, -5);
  });

  it('returns only new scalars on each read, and waits for a partly written record', (t) => {
    const dir = tempDir(t);
    const f = path.join(dir, eventFileName(1700000000, 'host', 1));
    const w = new EventFileWriter(f, 1700000000);
    const reader = new EventFileReader(f);
    assert.deepEqual(reader.read().scalars, []);
    assert.equal(reader.fileVersion, 'brain.Event:2');
    w.scalar('loss/current', 0.5, 1, 1700000001);
    w.scalar('loss/average', 0.5, 1, 1700000001);
    assert.deepEqual(
      reader.read().scalars.map((s) => [s.tag, s.step, s.value]),
      [['loss/current', 1, 0.5], ['loss/average', 1, 0.5]],
    );
    assert.deepEqual(reader.read().scalars, []);
    const rec = frameRecord(encodeEvent({ wallTime: 1700000002, step: 2, scalars: [{ tag: 'loss/current', value: 0.25 }] }));
    const before = reader.position;
    for (const cut of [5, 12, 20, rec.length - 1]) {
      writeFileSync(f, Buffer.concat([readFileSync(f).subarray(0, before), rec.subarray(0, cut)]));
      const r = reader.read();
      assert.deepEqual(r.scalars, [], `cut ${cut}`);
      assert.deepEqual(r.corrupt, []);
      assert.equal(r.offset, before);
    }
    writeFileSync(f, Buffer.concat([readFileSync(f).subarray(0, before), rec]));
    assert.deepEqual(reader.read().scalars.map((s) => [s.tag, s.step, s.value]), [['loss/current', 2, 0.25]]);
  });

  it('reads in chunks, records across chunk ends and a record bigger than a chunk', (t) => {
    const f = path.join(tempDir(t), 'e');
    const w = new EventFileWriter(f, 1700000000);
    for (let i = 1; i <= 3000; i++) w.scalar(`tag/${i % 7}`, i, i, 1700000000 + i);
    const bigTag = 'x'.repeat(70000);
    w.scalar(bigTag, 1, 3001, 1700009999);
    w.scalar('after', 2, 3002, 1700010000);
    const chunked = new EventFileReader(f, { maxChunk: 1 << 16 }).read();
    assert.deepEqual(chunked.corrupt, []);
    assert.equal(chunked.error, undefined);
    assert.equal(chunked.offset, statSync(f).size);
    assert.equal(chunked.scalars.length, 3002);
    assert.equal(chunked.scalars[3000]?.tag, bigTag);
    assert.deepEqual(chunked.scalars, readEventFile(f).scalars);
    assert.deepEqual(readEventFile(f, { checkCrc: false }).scalars, chunked.scalars);
  });

  it('groups points by tag into columns', () => {
    const g = groupByTag(readEventFile(LORA_14).scalars);
    assert.deepEqual([...g.keys()], ['loss/current', 'loss/average', 'lr/textencoder', 'lr/unet', 'lr/d*lr']);
    assert.equal(g.get('lr/unet')?.values.length, 14);
    assert.deepEqual(Array.from(g.get('lr/unet')?.steps.slice(0, 3) ?? []), [1, 2, 3]);
  });

  it('collects columns per tag from a reader, and hands out what was added since an index', (t) => {
    const f = path.join(tempDir(t), 'e');
    const w = new EventFileWriter(f, 1700000000);
    const reader = new EventFileReader(f);
    const c = new SeriesCollector();
    for (let i = 1; i <= 1000; i++) w.append({ wallTime: 1700000000 + i, step: i, scalars: [{ tag: 'loss/current', value: i / 4 }, { tag: 'lr/unet', value: 0.5 }] });
    const first = reader.readInto(c);
    assert.equal(first.points, 2000);
    assert.deepEqual(first.scalars, []);
    assert.deepEqual(c.tags, ['loss/current', 'lr/unet']);
    assert.equal(c.count(), 2000);
    const all = c.get('loss/current')!;
    assert.equal(all.values.length, 1000);
    assert.equal(all.values[999], 250);
    assert.equal(all.steps[0], 1);
    w.scalar('loss/current', 7, 1001, 1700002000);
    assert.equal(reader.readInto(c).points, 1);
    const delta = c.get('loss/current', 1000)!;
    assert.deepEqual([Array.from(delta.steps), Array.from(delta.values), Array.from(delta.wallTimes)], [[1001], [7], [1700002000]]);
    assert.equal(c.get('missing'), undefined);
  });
});

describe('finding runs', () => {
  it("finds <logging_dir>/<prefix><timestamp>/network_train/ runs and skips accelerate's hparams folders", (t) => {
    const logs = tempDir(t);
    const a = path.join(logs, 'my_lora20260216120000', 'network_train');
    const b = path.join(logs, '20260101090000', 'network_train');
    mkdirSync(path.join(a, '1771243200.123'), { recursive: true });
    mkdirSync(b, { recursive: true });
    copyFileSync(LORA_14, path.join(a, path.basename(LORA_14)));
    copyFileSync(EMPTY_40, path.join(a, '1771243200.123', path.basename(EMPTY_40)));
    copyFileSync(EMPTY_40, path.join(b, path.basename(EMPTY_40)));
    writeFileSync(path.join(logs, 'notes.txt'), 'x');
    const runs = findRuns(logs);
    assert.deepEqual(
      runs.map((r) => ({ name: r.name, prefix: r.prefix, timestamp: r.timestamp, tracker: r.tracker, files: r.files.length })),
      [
        { name: '20260101090000/network_train', prefix: '', timestamp: '20260101090000', tracker: 'network_train', files: 1 },
        { name: 'my_lora20260216120000/network_train', prefix: 'my_lora', timestamp: '20260216120000', tracker: 'network_train', files: 1 },
      ],
    );
    // the tracker folder itself, and a run folder, work as roots too
    assert.equal(findRuns(a).length, 1);
    assert.equal(findRuns(a)[0]?.tracker, 'network_train');
    assert.equal(findRuns(path.dirname(a)).length, 1);
    assert.deepEqual(findRuns(path.join(logs, 'missing')), []);
  });

  it('finds the fixture runs', () => {
    assert.deepEqual(
      findRuns(TFEVENTS).map((r) => [r.name, r.files.length]),
      [
        ['kohya_dreambooth_run/dreambooth', 1],
        ['kohya_empty_run/dreambooth', 1],
        ['kohya_lora_run_14steps/network_train', 1],
        ['pytorch_summarywriter', 3],
      ],
    );
  });

  it('reads a run incrementally and picks up event files that appear later', (t) => {
    const dir = tempDir(t);
    const w1 = new EventFileWriter(path.join(dir, eventFileName(1700000000, 'h', 1)), 1700000000);
    w1.scalar('loss/current', 1, 1, 1700000001);
    const run = new RunReader(dir);
    assert.equal(run.read().scalars.length, 1);
    const w2 = new EventFileWriter(path.join(dir, eventFileName(1700000100, 'h', 2)), 1700000100);
    w2.scalar('loss/current', 2, 2, 1700000101);
    w1.scalar('loss/current', 3, 3, 1700000102);
    const r = run.read();
    assert.deepEqual(r.scalars.map((s) => s.value).sort(), [2, 3]);
    assert.deepEqual(r.corrupt, []);
  });
});
