import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { ROOT } from './helpers';

export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const TFEVENTS = path.join(FIXTURES, 'tfevents');
export const LORA_14 = path.join(
  TFEVENTS,
  'kohya_lora_run_14steps/network_train/events.out.tfevents.1713030792.DESKTOP-4M9DSE4.28725.0',
);
export const DREAMBOOTH = path.join(TFEVENTS, 'kohya_dreambooth_run/dreambooth/events.out.tfevents.1670974130.DESKTOP-4M9DSE4.3624.0');
export const EMPTY_40 = path.join(TFEVENTS, 'kohya_empty_run/dreambooth/events.out.tfevents.1670971772.DESKTOP-4M9DSE4.19112.0');
export const PYTORCH_DIR = path.join(TFEVENTS, 'pytorch_summarywriter');
export const LOG_520 = path.join(FIXTURES, 'logs', 'sdxl_lora_520_steps_stdout.txt');
export const LOG_NAN = path.join(FIXTURES, 'logs', 'kohya-ss_sd-scripts_issue2137_avr_loss_nan.txt');
export const FAKE_TRAINER = path.join(FIXTURES, 'fake-trainer.mjs');

/** Record boundaries of a TFRecord file, found by walking the length fields (no CRC checks). */
export function recordBoundaries(buf: Buffer): number[] {
  const ends: number[] = [];
  let pos = 0;
  while (pos + 12 <= buf.length) {
    const len = Number(buf.readBigUInt64LE(pos));
    pos += 16 + len;
    if (pos > buf.length) break;
    ends.push(pos);
  }
  return ends;
}

/** A small deterministic PRNG (mulberry32) for fuzzing and chunking. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function readFixture(p: string): Buffer {
  return readFileSync(p);
}
