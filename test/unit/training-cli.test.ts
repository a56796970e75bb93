import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { LWB_CLI as LWB, tempDir } from './helpers';
import { LORA_14, EMPTY_40, TFEVENTS, recordBoundaries } from './training-helpers';
import { formatValue } from '../../src/cli/tfeventsCommand';

function lwb(...args: string[]) {
  const r = spawnSync(process.execPath, [LWB, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('lwb tfevents', () => {
  it('is listed in the help', () => {
    assert.match(lwb('--help').out, /tfevents <file\|folder>/);
    assert.match(lwb('tfevents', '--help').out, /--tag <tag>/);
  });

  it('prints the scalars of one event file', () => {
    const r = lwb('tfevents', LORA_14);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const lines = r.out.trimEnd().split('\n');
    assert.equal(
      lines[0],
      `${path.basename(LORA_14)}  (1 file, 70 scalars; loss/current, loss/average, lr/textencoder, lr/unet, lr/d*lr)`,
    );
    assert.equal(lines[1], '  step  tag             value');
    assert.equal(lines[2], '     1  loss/current    0.10269631');
    assert.equal(lines.length, 72);
  });

  it('prints CSV and JSON, filtered by tag with wildcards', () => {
    const csv = lwb('tfevents', LORA_14, '--csv', '--tag', 'lr/*');
    assert.equal(csv.code, 0, csv.err);
    const rows = csv.out.trimEnd().split('\n');
    assert.equal(rows[0], 'run,tag,step,wall_time,value');
    assert.equal(rows.length, 1 + 3 * 14);
    assert.ok(rows.slice(1).every((l) => /^events\.out\.tfevents\.[^,]+,lr\/(textencoder|unet|d\*lr),\d+,\d+\.\d+,[\d.e-]+$/.test(l)), rows[1]);
    const json = lwb('tfevents', TFEVENTS, '--json', '--tag', 'loss/average', '--tag', 'epoch_loss');
    assert.equal(json.code, 0, json.err);
    const j = JSON.parse(json.out) as { runs: { name: string; tags: string[]; scalars: { tag: string; step: number; value: number }[] }[]; corrupt: unknown[] };
    assert.deepEqual(j.runs.map((r) => [r.name, r.tags, r.scalars.length]), [
      ['kohya_dreambooth_run/dreambooth', ['epoch_loss'], 1],
      ['kohya_empty_run/dreambooth', [], 0],
      ['kohya_lora_run_14steps/network_train', ['loss/average'], 14],
      ['pytorch_summarywriter', [], 0],
    ]);
    assert.deepEqual(j.corrupt, []);
    assert.equal(j.runs[2]?.scalars[0]?.value, 0.10269631);
  });

  it('reads a folder of runs and an empty file', () => {
    const r = lwb('tfevents', TFEVENTS);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^kohya_lora_run_14steps\/network_train {2}\(1 file, 70 scalars;/m);
    assert.match(r.out, /^pytorch_summarywriter {2}\(3 files, 57 scalars; Loss\/train\)$/m);
    const empty = lwb('tfevents', EMPTY_40);
    assert.equal(empty.code, 0);
    assert.match(empty.out, /\(1 file, 0 scalars\)/);
  });

  it('reports corrupt records on stderr and exits 1', (t) => {
    const dir = tempDir(t);
    const bytes = Buffer.from(readFileSync(LORA_14));
    const at = recordBoundaries(bytes)[4]!;
    bytes[at + 14] = (bytes[at + 14] as number) ^ 1;
    const f = path.join(dir, 'events.out.tfevents.1.broken');
    writeFileSync(f, bytes);
    const r = lwb('tfevents', f, '--csv');
    assert.equal(r.code, 1);
    assert.equal(r.err, `lwb tfevents: ${f}: corrupt record at byte ${at}: record data (${bytes.readUInt32LE(at)} bytes) fails its CRC check; skipped\n`);
    assert.equal(r.out.trimEnd().split('\n').length, 1 + 69);
  });

  it('exits 3 for a missing path or a folder without event files, 2 for usage errors, 1 for an unknown tag', (t) => {
    const dir = tempDir(t);
    const missing = lwb('tfevents', path.join(dir, 'nope'));
    assert.equal(missing.code, 3);
    assert.match(missing.err, /does not exist/);
    mkdirSync(path.join(dir, 'empty'));
    const none = lwb('tfevents', path.join(dir, 'empty'));
    assert.equal(none.code, 3);
    assert.match(none.err, /no event file/);
    assert.equal(lwb('tfevents').code, 2);
    assert.equal(lwb('tfevents', LORA_14, '--csv', '--json').code, 2);
    assert.equal(lwb('tfevents', LORA_14, '--bogus').code, 2);
    const tag = lwb('tfevents', LORA_14, '--tag', 'loss/epoch_average');
    assert.equal(tag.code, 1);
    assert.match(tag.err, /tags present: loss\/current, loss\/average, lr\/textencoder, lr\/unet, lr\/d\*lr/);
  });

  it('prints float32 values in their shortest form', () => {
    assert.equal(formatValue(Math.fround(0.1)), '0.1');
    assert.equal(formatValue(Math.fround(1e-4)), '0.0001');
    assert.equal(formatValue(0.1 + 0.2), String(0.1 + 0.2)); // a double that is not a float32
    assert.equal(formatValue(NaN), 'nan');
    assert.equal(formatValue(-Infinity), '-inf');
  });
});
