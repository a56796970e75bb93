/**
 * Benchmark: reading a TensorBoard event file with our reader (CRC-32C of every length and record
 * checked, Events decoded to scalars) against a plain read of the same file (readFileSync, the
 * least any reader must do), measured in the same run on one core.
 *
 *   node scripts/build.mjs --tests && node out/bench/tfevents.js [steps=200000]
 *   (or bundle this file with esbuild and run it with node)
 * Writes `steps` optimizer steps × 5 tags (loss/current, loss/average, lr/textencoder, lr/unet,
 * lr/group1) as sd-scripts does: one Event per scalar. Prints MB/s (best of 5) and the ratio to
 * the plain read. Goal: ≥ 100 MB/s with CRC checks. Not a test: nothing here fails on time.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '../src/core/training/crc32c';
import { encodeEvent, EventFileReader, frameRecord, SeriesCollector } from '../src/core/training/tfevents';

const steps = Number(process.argv.find((a) => a.startsWith('steps='))?.slice(6) ?? 200_000);
const TAGS = ['loss/current', 'loss/average', 'lr/textencoder', 'lr/unet', 'lr/group1'];

function makeFile(dir: string): string {
  const file = path.join(dir, 'events.out.tfevents.1700000000.bench.1.0');
  const parts: Buffer[] = [frameRecord(encodeEvent({ wallTime: 1700000000, fileVersion: 'brain.Event:2' }))];
  let t = 1700000000;
  for (let s = 1; s <= steps; s++) {
    for (let i = 0; i < TAGS.length; i++) {
      t += 0.0007;
      const value = i < 2 ? 0.1 + 0.05 * Math.sin(s * 0.37 + i) : 1e-4 * (1 - s / steps);
      parts.push(frameRecord(encodeEvent({ wallTime: t, step: s, scalars: [{ tag: TAGS[i] as string, value }] })));
    }
  }
  writeFileSync(file, Buffer.concat(parts));
  return file;
}

/** best of `runs`, by wall time and by CPU time of this process (steadier on a busy machine) */
function best(fn: () => number, runs = 5): { ms: number; cpuMs: number; value: number } {
  let ms = Infinity;
  let cpuMs = Infinity;
  let value = 0;
  for (let i = 0; i < runs; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    value = fn();
    ms = Math.min(ms, performance.now() - t);
    const d = process.cpuUsage(c);
    cpuMs = Math.min(cpuMs, (d.user + d.system) / 1000);
  }
  return { ms, cpuMs, value };
}

function main(): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lwb-bench-tfevents-'));
  try {
    const t0 = performance.now();
    const file = makeFile(dir);
    const size = statSync(file).size;
    const mb = size / 1e6;
    console.log(`event file: ${steps} steps × ${TAGS.length} tags = ${steps * TAGS.length} records, ${mb.toFixed(1)} MB, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const plain = best(() => readFileSync(file).length);
    const checked = best(() => {
      const sink = new SeriesCollector();
      const r = new EventFileReader(file).readInto(sink);
      if (r.corrupt.length || r.error) throw new Error('reader reported a problem');
      return r.points;
    });
    if (checked.value !== steps * TAGS.length) throw new Error(`read ${checked.value} scalars, expected ${steps * TAGS.length}`);
    const unchecked = best(() => new EventFileReader(file, { checkCrc: false }).readInto(new SeriesCollector()).points);
    const objects = best(() => new EventFileReader(file).read().points);
    const buf = readFileSync(file);
    const crcOnly = best(() => crc32c(buf));

    const rate = (r: { ms: number; cpuMs: number }): string =>
      `${(mb / (r.ms / 1000)).toFixed(0).padStart(6)} MB/s wall (${r.ms.toFixed(0)} ms), ${(mb / (r.cpuMs / 1000)).toFixed(0).padStart(6)} MB/s CPU time`;
    console.log(`plain read (readFileSync):         ${rate(plain)}`);
    console.log(`reader, CRC-32C checked (columns): ${rate(checked)}`);
    console.log(`reader, without CRC checks:        ${rate(unchecked)}`);
    console.log(`reader, CRC, one object per point: ${rate(objects)}`);
    console.log(`CRC-32C alone over the buffer:     ${rate(crcOnly)}`);
    console.log(`ratio checked reader / plain read: ${(checked.ms / plain.ms).toFixed(1)}× the wall time, ${(checked.cpuMs / plain.cpuMs).toFixed(1)}× the CPU time`);
    const cpuRate = mb / (checked.cpuMs / 1000);
    console.log(`goal ≥ 100 MB/s with CRC checks:   ${cpuRate >= 100 ? 'met' : 'NOT met'} (${cpuRate.toFixed(0)} MB/s per CPU second; load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} cores)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
