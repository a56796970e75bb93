import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { LWB_CLI as LWB, ROOT, SAMPLE, SAMPLE_TRAIN, tempDir } from './helpers';

function lwb(...args: string[]) {
  // plain `node` on the built output, as a user runs it
  const r = spawnSync(process.execPath, [LWB, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('lwb', () => {
  it('prints its version and help', () => {
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.deepEqual(lwb('--version'), { code: 0, out: `${version}\n`, err: '' });
    const help = lwb('--help');
    assert.equal(help.code, 0);
    assert.match(help.out, /scan <folder>/);
    assert.match(lwb('scan', '--help').out, /--depth <n>/);
  });
  it('is a runnable script', () => {
    assert.match(readFileSync(LWB, 'utf8').split('\n')[0] ?? '', /^#!\/usr\/bin\/env node/);
  });
  it('exits 2 on usage errors, with the reason', () => {
    const none = lwb();
    assert.equal(none.code, 2);
    assert.match(none.out, /Usage: lwb/);
    const unknown = lwb('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command 'frobnicate'/);
    assert.equal(lwb('scan').code, 2);
    const depth = lwb('scan', SAMPLE, '--depth', 'x');
    assert.equal(depth.code, 2);
    assert.match(depth.err, /--depth takes a whole number/);
    assert.equal(lwb('scan', SAMPLE, '--bogus').code, 2);
  });
  it('scans the sample train_data_dir', () => {
    const r = lwb('scan', SAMPLE_TRAIN);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^5_tk girl\/ {2}14 images {2}\(\.txt 14, \.caption 0, none 0\) {2}\[5 repeats, class "tk girl"\]$/m);
    assert.match(r.out, /^ {2}10\.png {2}\.txt$/m);
    assert.match(r.out, /^14 images in 1 folder: 14 with \.txt, 0 with \.caption, 0 without any$/m);
  });
  it('prints JSON with --json', () => {
    const r = lwb('scan', path.join(SAMPLE, 'dataset'), '--depth', '2', '--json', '--ext', '.txt');
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out) as { totals: { images: number; withSidecar: Record<string, number> }; folders: unknown[] };
    assert.equal(j.totals.images, 16);
    assert.deepEqual(j.totals.withSidecar, { '.txt': 14 });
    assert.equal(j.folders.length, 2);
  });
  it('exits 3 for a missing folder and 1 when there is nothing to train on', (t) => {
    const missing = lwb('scan', path.join(ROOT, 'no-such-folder'));
    assert.equal(missing.code, 3);
    assert.match(missing.err, /no-such-folder does not exist/);
    const dir = tempDir(t);
    mkdirSync(path.join(dir, '5_empty'));
    const empty = lwb('scan', dir);
    assert.equal(empty.code, 1);
    assert.match(empty.err, /no image sd-scripts would load/);
  });
});
