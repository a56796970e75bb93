import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { classifyImageName, normaliseSidecarExtension } from '../../src/core/dataset/images';
import {
  pairFolderEntries,
  parseConceptFolderName,
  scanDataset,
  ScanRootError,
} from '../../src/core/dataset/scan';
import { groupDatasets } from '../../src/core/dataset/groups';
import { SAMPLE, SAMPLE_TRAIN, tempDir } from './helpers';

describe('image names as sd-scripts matches them', () => {
  it('accepts the five extensions in lower and upper case only', () => {
    for (const n of ['a.png', 'a.jpg', 'a.jpeg', 'a.webp', 'a.bmp', 'A.PNG', 'b.JPEG']) {
      assert.equal(classifyImageName(n), 'image', n);
    }
    assert.equal(classifyImageName('a.Png'), 'mixedCase');
    assert.equal(classifyImageName('a.jPg'), 'mixedCase');
  });
  it('marks plugin formats and non-images', () => {
    assert.equal(classifyImageName('a.avif'), 'needsPlugin');
    assert.equal(classifyImageName('a.jxl'), 'needsPlugin');
    assert.equal(classifyImageName('a.txt'), 'notImage');
    assert.equal(classifyImageName('a.gif'), 'notImage');
    assert.equal(classifyImageName('.png'), 'notImage');
    assert.equal(classifyImageName('png'), 'notImage');
  });
  it('adds the missing dot to a caption extension, as sd-scripts does', () => {
    assert.equal(normaliseSidecarExtension('txt'), '.txt');
    assert.equal(normaliseSidecarExtension('.caption'), '.caption');
  });
});

describe('kohya concept folder names', () => {
  it('reads repeats and class tokens', () => {
    assert.deepEqual(parseConceptFolderName('5_tk girl'), { ok: true, repeats: 5, classTokens: 'tk girl' });
    assert.deepEqual(parseConceptFolderName('10_sks_dog'), { ok: true, repeats: 10, classTokens: 'sks_dog' });
    assert.deepEqual(parseConceptFolderName('3'), { ok: true, repeats: 3, classTokens: '' });
    assert.deepEqual(parseConceptFolderName(' 2 _x'), { ok: true, repeats: 2, classTokens: 'x' });
  });
  it('says why sd-scripts skips a folder', () => {
    const noNumber = parseConceptFolderName('girl');
    assert.equal(noNumber.ok, false);
    assert.match(!noNumber.ok ? noNumber.reason : '', /no repeat count/);
    const zero = parseConceptFolderName('0_girl');
    assert.equal(zero.ok, false);
    assert.match(!zero.ok ? zero.reason : '', /below 1/);
    assert.equal(parseConceptFolderName('5x_girl').ok, false);
  });
});

describe('pairing images with sidecars', () => {
  it('pairs by exact stem and extension', () => {
    const r = pairFolderEntries(
      ['1.png', '1.txt', '1.caption', '2.jpg', '2.TXT', '3.webp', '3.npz', 'orphan.txt', 'notes.md'],
      ['.txt', 'caption'],
    );
    assert.deepEqual(
      r.images.map((i) => [i.name, i.sidecars, i.hasLatentCache]),
      [
        ['1.png', { '.txt': '1.txt', '.caption': '1.caption' }, false],
        ['2.jpg', {}, false],
        ['3.webp', {}, true],
      ],
    );
    // 2.TXT has an image of the same stem but not the exact extension: neither paired nor orphan
    assert.deepEqual(r.orphanSidecars, ['orphan.txt']);
  });
  it('sorts images naturally and lists skipped image files', () => {
    const r = pairFolderEntries(['10.png', '2.png', '1.png', 'x.Png', 'y.avif'], ['.txt']);
    assert.deepEqual(r.images.map((i) => i.name), ['1.png', '2.png', '10.png']);
    assert.deepEqual(r.ignored, [
      { name: 'x.Png', kind: 'mixedCase' },
      { name: 'y.avif', kind: 'needsPlugin' },
    ]);
  });
  it('gives two images with one stem the same sidecar, as sd-scripts does', () => {
    const r = pairFolderEntries(['a.png', 'a.jpg', 'a.txt'], ['.txt']);
    assert.deepEqual(r.images.map((i) => i.sidecars['.txt']), ['a.txt', 'a.txt']);
  });
});

describe('scanDataset', () => {
  it('reads the sample dataset like sd-scripts', async () => {
    const r = await scanDataset(path.join(SAMPLE, 'dataset'), { depth: 2 });
    assert.deepEqual(r.folders.map((f) => f.relPath), ['img_reg/1_girl', 'img_train/5_tk girl']);
    const train = r.folders[1];
    assert.ok(train);
    assert.equal(train.images.length, 14);
    assert.deepEqual(train.concept, { ok: true, repeats: 5, classTokens: 'tk girl' });
    assert.deepEqual(r.totals, { images: 16, withSidecar: { '.txt': 14, '.caption': 0 }, withoutSidecar: 2, ignored: 0 });
    assert.deepEqual(r.errors, []);
  });
  it('respects depth, exclusions and hidden folders', async (t) => {
    const dir = tempDir(t);
    for (const sub of ['a/b/c', 'node_modules/x', '.cache']) mkdirSync(path.join(dir, sub), { recursive: true });
    for (const f of ['top.png', 'a/1.png', 'a/b/2.png', 'a/b/c/3.png', 'node_modules/x/4.png', '.cache/5.png']) {
      writeFileSync(path.join(dir, f), '');
    }
    const names = async (depth: number) =>
      (await scanDataset(dir, { depth })).folders.map((f) => f.relPath);
    assert.deepEqual(await names(0), ['']);
    assert.deepEqual(await names(1), ['', 'a']);
    assert.deepEqual(await names(3), ['', 'a', 'a/b', 'a/b/c']);
  });
  it('follows symlinked images and folders', async (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, 'real'));
    writeFileSync(path.join(dir, 'real', 'a.png'), '');
    mkdirSync(path.join(dir, 'ds'));
    symlinkSync(path.join(dir, 'real', 'a.png'), path.join(dir, 'ds', 'linked.png'));
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'ds', '1_linked'));
    const r = await scanDataset(path.join(dir, 'ds'), { depth: 1 });
    assert.deepEqual(r.folders.map((f) => [f.relPath, f.images.map((i) => i.name)]), [
      ['', ['linked.png']],
      ['1_linked', ['a.png']],
    ]);
  });
  it('names the root when it is missing or a file', async (t) => {
    const dir = tempDir(t);
    await assert.rejects(scanDataset(path.join(dir, 'nope')), (e: unknown) => {
      assert.ok(e instanceof ScanRootError);
      assert.equal(e.code, 'ENOENT');
      assert.match(e.message, /nope does not exist/);
      return true;
    });
    writeFileSync(path.join(dir, 'file.png'), '');
    await assert.rejects(scanDataset(path.join(dir, 'file.png')), (e: unknown) => e instanceof ScanRootError && e.code === 'ENOTDIR');
  });
  it('handles a folder of 20,000 images', async (t) => {
    const dir = tempDir(t);
    const sub = path.join(dir, '1_big');
    mkdirSync(sub);
    for (let i = 0; i < 20_000; i++) {
      writeFileSync(path.join(sub, `${i}.jpg`), '');
      if (i % 2 === 0) writeFileSync(path.join(sub, `${i}.txt`), 'tag');
    }
    const r = await scanDataset(dir);
    assert.equal(r.totals.images, 20_000);
    assert.equal(r.totals.withSidecar['.txt'], 10_000);
    assert.equal(r.folders[0]?.images[2]?.name, '2.jpg');
  });
  it('stops when cancelled', async (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, 'a'));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(scanDataset(dir, { signal: ac.signal }), /cancelled/);
  });
});

describe('grouping folders into datasets', () => {
  it('groups concept folders under their train_data_dir', async () => {
    const r = await scanDataset(path.join(SAMPLE, 'dataset'), { depth: 2 });
    const groups = groupDatasets(r.folders);
    assert.deepEqual(
      groups.map((g) => [path.basename(g.path), g.kind, g.folders.length, g.imageCount]),
      [
        ['img_reg', 'kohyaFolder', 1, 2],
        ['img_train', 'kohyaFolder', 1, 14],
      ],
    );
    const plain = await scanDataset(path.join(SAMPLE_TRAIN, '5_tk girl'), { depth: 0 });
    // scanned on its own, the concept folder still groups under its parent
    assert.equal(groupDatasets(plain.folders)[0]?.path, SAMPLE_TRAIN);
  });
});
