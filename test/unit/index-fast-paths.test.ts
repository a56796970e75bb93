// The speed paths of the dataset index (issue #7 "Speed and memory") must give exactly what the
// plain paths give: the natural-order comparator against the collator, the one-pass pairing
// against the straightforward one, header reads on worker threads against the synchronous reader.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { compareNames, comparePrimary, pairFolderEntries, sortNames, type FolderScan, type ImageEntry } from '../../src/core/dataset/scan';
import { extensionOf, classifyImageName, normaliseSidecarExtension, stemOf } from '../../src/core/dataset/images';
import { DatasetIndex, type IndexedImage } from '../../src/core/dataset/index';
import { headerFromFirstRead, readImageHeaderSync, unreadableHeader } from '../../src/core/dataset/imageHeader';
import { readFirstBytesThreaded, startThreadedReads } from '../../src/core/dataset/headerThreads';
import { makeBmp, makePng } from './dataset-fixtures';
import { tempDir } from './helpers';

/** A small seeded random generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}
function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

describe('natural order without the collator', () => {
  it('sorts random ASCII names exactly as the collator does', () => {
    const rnd = random(7);
    const alphabet = [...'aAbBkKzZ0123456789 _-.,()[]!~$+=#&@\''];
    for (let round = 0; round < 150; round++) {
      const names = new Set<string>();
      while (names.size < 200) {
        let s = '';
        const len = 1 + Math.floor(rnd() * 9);
        for (let i = 0; i < len; i++) s += pick(rnd, alphabet);
        names.add(s);
      }
      const list = [...names];
      assert.deepEqual(sortNames(list.slice()), list.slice().sort(compareNames), `round ${round}`);
    }
  });
  it('sorts file names people use, with leading zeros, case and other scripts, as the collator does', () => {
    const rnd = random(11);
    const stems = ['', 'img_', 'IMG_', 'image ', 'tk girl ', 'a-', '画像', 'été', 'x'];
    const exts = ['.png', '.PNG', '.jpg', '.txt', '.caption', '.npz', ''];
    const list: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const n = Math.floor(rnd() * 1200);
      const digits = rnd() < 0.3 ? String(n).padStart(5, '0') : String(n);
      list.push(`${pick(rnd, stems)}${digits}${pick(rnd, exts)}`);
    }
    // equal names and names the collator ranks equal (01 and 1) keep their order, as with the collator
    assert.deepEqual(sortNames(list.slice()), list.slice().sort(compareNames));
    const ascii = list.filter((n) => /^[\x20-\x7e]*$/.test(n));
    assert.deepEqual(sortNames(ascii.slice()), ascii.slice().sort(compareNames));
  });
  it('agrees with the collator on every pair it decides, and leaves the rest to it', () => {
    const cases: Array<[string, string]> = [
      ['2.png', '10.png'],
      ['a.png', 'a1.png'],
      ['a_1.png', 'a-1.png'],
      ['a 1.png', 'a_1.png'],
      ['x9.png', 'x10.png'],
      ['img.png', 'IMG.png'],
      ['01.png', '1.png'],
      ['1' + '0'.repeat(250) + '.png', '2.png'],
      ['猫.png', 'a.png'],
      ['a', 'a.'],
    ];
    for (const [a, b] of cases) {
      const p = comparePrimary(a, b);
      const c = compareNames(a, b);
      if (Number.isNaN(p) || p === 0) continue;
      assert.equal(Math.sign(p), Math.sign(c), `${a} vs ${b}`);
    }
    assert.ok(Number.isNaN(comparePrimary('猫.png', 'a.png')));
    assert.equal(comparePrimary('01.png', '1.png'), 0);
    assert.ok(comparePrimary('2.png', '10.png') < 0);
  });
});

/** The pairing as it was first written: every name grouped by stem, every image's siblings looked at. */
function referencePairing(fileNames: readonly string[], sidecarExtensions: readonly string[]): Pick<FolderScan, 'images' | 'ignored' | 'orphanSidecars'> {
  const exts = sidecarExtensions.map(normaliseSidecarExtension);
  const byStem = new Map<string, string[]>();
  const images: string[] = [];
  const ignored: FolderScan['ignored'] = [];
  for (const name of fileNames) {
    const kind = classifyImageName(name);
    if (kind === 'image') images.push(name);
    else if (kind === 'mixedCase' || kind === 'needsPlugin') ignored.push({ name, kind });
    const list = byStem.get(stemOf(name));
    if (list) list.push(name);
    else byStem.set(stemOf(name), [name]);
  }
  images.sort(compareNames);
  ignored.sort((a, b) => compareNames(a.name, b.name));
  const imageStems = new Set(images.map(stemOf));
  const entries: ImageEntry[] = images.map((name) => {
    const sidecars: Record<string, string> = {};
    let hasLatentCache = false;
    for (const sib of byStem.get(stemOf(name)) ?? []) {
      const ext = extensionOf(sib);
      if (exts.includes(ext)) sidecars[ext] = sib;
      if (ext === '.npz') hasLatentCache = true;
    }
    return { name, sidecars, hasLatentCache };
  });
  const orphanSidecars = fileNames.filter((n) => exts.includes(extensionOf(n)) && !imageStems.has(stemOf(n))).sort(compareNames);
  return { images: entries, ignored, orphanSidecars };
}

describe('one-pass pairing', () => {
  it('pairs random folders exactly like the straightforward pairing', () => {
    const rnd = random(3);
    const exts = ['.png', '.PNG', '.Png', '.jpg', '.jpeg', '.webp', '.bmp', '.avif', '.jxl', '.gif', '.txt', '.TXT', '.caption', '.npz', '.json', '', '.'];
    for (let round = 0; round < 200; round++) {
      const names = new Set<string>();
      const count = Math.floor(rnd() * 120);
      while (names.size < count) {
        const stem = rnd() < 0.05 ? '' : `${pick(rnd, ['', 'a', 'b.c', 'Img '])}${Math.floor(rnd() * 30)}`;
        names.add(`${stem}${pick(rnd, exts)}` || 'x');
      }
      const sidecars = pick(rnd, [['.txt', '.caption'], ['txt'], ['.caption', '.TXT'], ['.png'], ['.txt', 'txt'], ['.npz', '.txt'], []]);
      const list = [...names];
      assert.deepEqual(pairFolderEntries(list, sidecars), referencePairing(list, sidecars), `round ${round}: ${JSON.stringify(list)}`);
    }
  });
});

describe('header reads on worker threads', () => {
  function dataset(dir: string): void {
    const d = path.join(dir, '5_tk girl');
    mkdirSync(d, { recursive: true });
    for (let i = 0; i < 60; i++) {
      writeFileSync(path.join(d, `${i}.png`), makePng({ width: 8 + i, height: 9, pixel: () => i }));
      if (i % 3) writeFileSync(path.join(d, `${i}.txt`), `tk, tag ${i}, Blue_Hair`);
    }
    // longer than the first read: stat'ed, and the IDAT comes after a big text chunk (a second read)
    writeFileSync(path.join(d, 'big.png'), makePng({ width: 33, height: 44, pixel: () => 1, textBytes: 9000 }));
    writeFileSync(path.join(d, 'big.txt'), 'x'.repeat(300 * 1024));
    writeFileSync(path.join(d, 'zero.png'), '');
    writeFileSync(path.join(d, 'zero.txt'), '');
    writeFileSync(path.join(d, 'bmp.bmp'), makeBmp(30, 20));
    writeFileSync(path.join(d, 'fake.jpg'), 'not an image');
    writeFileSync(path.join(d, 'latin1.png'), makePng({ width: 5, height: 5, pixel: () => 0 }));
    writeFileSync(path.join(d, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2c, 0x20, 0x78]));
  }
  const facts = (img: IndexedImage | undefined): unknown => img && { ...img, header: { ...img.header } };

  it('give every image the same record as synchronous reads, tags included', async (t) => {
    const dir = tempDir(t);
    dataset(dir);
    const sliced = await DatasetIndex.build(dir, { depth: 1, io: 'sliced', tagExtension: '.txt' });
    const threads = await DatasetIndex.build(dir, { depth: 1, io: 'threads', tagExtension: '.txt' });
    assert.equal(threads.imageCount, 65);
    const all = [...sliced.allImages()];
    assert.equal(all.length, 65);
    for (const img of all) assert.deepEqual(facts(threads.image(img.path)), facts(img), img.name);
    const big = threads.image(path.join(dir, '5_tk girl', 'big.png'));
    assert.deepEqual([big?.width, big?.height, big?.size ? big.size > 9000 : false, (big?.mtimeMs ?? 0) > 0], [33, 44, true, true]);
    assert.deepEqual(threads.image(path.join(dir, '5_tk girl', '1.png'))?.tags, ['tk', 'tag 1', 'blue_hair']);
    assert.equal(threads.image(path.join(dir, '5_tk girl', 'big.png'))?.tags?.[0]?.length, 300 * 1024);
    assert.deepEqual(threads.image(path.join(dir, '5_tk girl', 'zero.png'))?.header.problems.map((p) => p.code), ['empty']);
  });

  it('give the same records when the threads read folders while the next ones are listed', async (t) => {
    const dir = tempDir(t);
    for (let f = 0; f < 6; f++) {
      const d = path.join(dir, `${f + 1}_concept ${f}`);
      mkdirSync(d);
      for (let i = 0; i < 40 + f * 7; i++) {
        writeFileSync(path.join(d, `${i}.png`), makePng({ width: 3 + i, height: 2 + f, pixel: () => i }));
        if ((i + f) % 4) writeFileSync(path.join(d, `${i}.txt`), `tk, tag ${i}, folder ${f}`);
      }
      writeFileSync(path.join(d, 'orphan.txt'), 'alone');
    }
    const sliced = await DatasetIndex.build(dir, { depth: 1, io: 'sliced', tagExtension: '.txt' });
    // no listener: the reads are handed out while the next folders are listed
    const threads = await DatasetIndex.build(dir, { depth: 1, io: 'threads', tagExtension: '.txt' });
    assert.equal(threads.imageCount, sliced.imageCount);
    // with a listener: everything is listed first, then read
    let readWhenListed = -1;
    const listedFirst = await DatasetIndex.build(dir, {
      depth: 1,
      io: 'threads',
      tagExtension: '.txt',
      onListed: (ix) => (readWhenListed = [...ix.allImages()].filter((i) => i.size > 0).length),
    });
    assert.equal(readWhenListed, 0);
    for (const img of sliced.allImages()) assert.deepEqual(facts(listedFirst.image(img.path)), facts(img), img.path);
    assert.deepEqual(threads.folders().map((f) => [f.relPath, f.images, f.orphanSidecars]), sliced.folders().map((f) => [f.relPath, f.images, f.orphanSidecars]));
    for (const img of sliced.allImages()) assert.deepEqual(facts(threads.image(img.path)), facts(img), img.path);
  });

  it('read files queued in several steps, each once, numbered in the order queued', async (t) => {
    const dir = tempDir(t);
    const files: string[] = [];
    for (let i = 0; i < 40; i++) {
      files.push(path.join(dir, `${i}.png`));
      writeFileSync(files[i] as string, makePng({ width: i + 1, height: 3, pixel: () => 0 }));
      if (i % 2) writeFileSync(path.join(dir, `${i}.txt`), `tag ${i}`);
    }
    const counts = new Array<number>(files.length).fill(0);
    const reads = startThreadedReads({ firstRead: 4096, threads: 2, batch: 5 }, (i, read) => {
      counts[i] = (counts[i] ?? 0) + 1;
      assert.equal(headerFromFirstRead(files[i] as string, read.bytes, read.stat).width, i + 1);
      assert.equal(read.sidecar === undefined ? undefined : Buffer.from(read.sidecar).toString(), i % 2 && i >= 13 ? `tag ${i}` : undefined);
    });
    // a folder's names under its prefix, or full paths under an empty one
    const prefix = dir + path.sep;
    const name = (f: string): string => path.basename(f);
    reads.add(prefix, files.slice(0, 13).map(name));
    reads.add(prefix, []);
    reads.add(
      '',
      files.slice(13, 27),
      files.slice(13, 27).map((f, k) => ((13 + k) % 2 ? f.replace(/\.png$/, '.txt') : undefined)),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    reads.add(
      prefix,
      files.slice(27).map(name),
      files.slice(27).map((f, k) => ((27 + k) % 2 ? name(f).replace(/\.png$/, '.txt') : undefined)),
    );
    const r = await reads.finish();
    assert.deepEqual(r.unreported, []);
    assert.deepEqual(counts, new Array<number>(files.length).fill(1));
    assert.throws(() => reads.add('', files.slice(0, 1)));
  });

  it('report a file that cannot be read as the synchronous reader does', async (t) => {
    const dir = tempDir(t);
    const gone = path.join(dir, 'gone.png');
    const seen: string[] = [];
    await readFirstBytesThreaded([gone, dir], { firstRead: 4096, threads: 1 }, (i, read) => {
      const file = i === 0 ? gone : dir;
      const h = read.error ? unreadableHeader(read.error.code, read.error.message) : headerFromFirstRead(file, read.bytes, read.stat);
      assert.deepEqual(h, readImageHeaderSync(file));
      seen.push(file);
    });
    assert.deepEqual(seen, [gone, dir]);
  });

  it('report each file once, in batches, and stop when cancelled', async (t) => {
    const dir = tempDir(t);
    const files: string[] = [];
    for (let i = 0; i < 50; i++) {
      files.push(path.join(dir, `${i}.png`));
      writeFileSync(files[i] as string, makePng({ width: i + 1, height: 2, pixel: () => 0 }));
    }
    const counts = new Array<number>(files.length).fill(0);
    const r = await readFirstBytesThreaded(files, { firstRead: 4096, threads: 3, batch: 7 }, (i, read) => {
      counts[i] = (counts[i] ?? 0) + 1;
      assert.equal(headerFromFirstRead(files[i] as string, read.bytes, read.stat).width, i + 1);
    });
    assert.deepEqual(r.unreported, []);
    assert.ok(counts.every((c) => c === 1));
    const ac = new AbortController();
    ac.abort();
    let called = 0;
    await readFirstBytesThreaded(files, { firstRead: 4096, batch: 7, signal: ac.signal }, () => called++);
    assert.equal(called, 0);
  });
});

describe('folder scans made from the cold build records', () => {
  it('show a file added right after the listing once, in order, and follow tag edits', async (t) => {
    const dir = tempDir(t);
    const d = path.join(dir, '3_cat');
    mkdirSync(d);
    for (let i = 1; i <= 30; i++) writeFileSync(path.join(d, `${i * 2}.png`), makePng({ width: 4, height: 4, pixel: () => 0 }));
    let added = '';
    const index = await DatasetIndex.build(dir, {
      depth: 1,
      tagExtension: '.txt',
      onListed: () => {
        // a file the watcher reports while sizes are still being read
        added = path.join(d, '7.png');
        writeFileSync(added, makePng({ width: 6, height: 6, pixel: () => 0 }));
      },
    });
    const info = index.folder(d);
    assert.ok(info);
    const before = index.folderScan(info);
    assert.equal(before.images.length, 30);
    // pages of the cold build's records, before any update: in order, the records the index holds
    const page = index.query({ folder: d, offset: 3, limit: 4 });
    assert.equal(page.total, 30);
    assert.deepEqual(page.items.map((i) => i.name), ['8.png', '10.png', '12.png', '14.png']);
    for (const img of page.items) assert.equal(index.image(img.path), img);
    assert.deepEqual(index.query({ folder: d, offset: 28 }).items.map((i) => i.name), ['58.png', '60.png']);
    const delta = await index.update([{ path: added }]);
    assert.deepEqual(delta.added, [added]);
    const after = index.folderScan(info);
    const names = after.images.map((i) => i.name);
    assert.equal(names.filter((n) => n === '7.png').length, 1);
    assert.deepEqual(names.slice(0, 5), ['2.png', '4.png', '6.png', '7.png', '8.png']);
    assert.equal(names.length, 31);
    assert.deepEqual(index.query({ folder: d, offset: 2, limit: 3 }).items.map((i) => i.name), ['6.png', '7.png', '8.png']);
    assert.equal(index.query({ folder: d, limit: 0 }).total, 31);
    // applying the same event again changes nothing
    await index.update([{ path: added }]);
    assert.equal(index.folderScan(info).images.length, 31);
    writeFileSync(path.join(d, '7.txt'), 'a, b');
    await index.update([{ path: path.join(d, '7.txt') }]);
    const seven = index.folderScan(info).images.find((i) => i.name === '7.png');
    assert.deepEqual(seven?.sidecars, { '.txt': '7.txt' });
    assert.deepEqual(index.image(added)?.tags, ['a', 'b']);
    // the scan as code outside the index compares it: plain entries
    const plain = index.toScanResult().folders[0]?.images.find((i) => i.name === '7.png');
    assert.deepEqual(plain, { name: '7.png', sidecars: { '.txt': '7.txt' }, hasLatentCache: false });
  });
});
