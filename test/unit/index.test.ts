import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { chmodSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { DatasetIndex } from '../../src/core/dataset/index';
import { emptyFolderReason } from '../../src/core/dataset/treeOps';
import { scanDataset } from '../../src/core/dataset/scan';
import { makePng, makeBmp } from './dataset-fixtures';
import { SAMPLE, tempDir } from './helpers';

function tree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}
const png = (w: number, h: number) => makePng({ width: w, height: h, pixel: () => 7 });

describe('dataset index: cold build', () => {
  it('gives the same listing as scanDataset on the sample dataset', async () => {
    const root = path.join(SAMPLE, 'dataset');
    const index = await DatasetIndex.build(root, { depth: 2 });
    assert.deepEqual(index.toScanResult(), await scanDataset(root, { depth: 2 }));
    const img = index.image(path.join(root, 'img_train', '5_tk girl', '1.png'));
    assert.deepEqual([img?.format, img?.width, img?.height, img?.header.bitDepth], ['png', 512, 704, 16]);
    assert.ok((img?.size ?? 0) > 0);
  });
  it('indexes sizes, dimensions and sidecars, and lists what sd-scripts skips', async (t) => {
    const dir = tempDir(t);
    tree(dir, {
      '5_tk girl/1.png': png(640, 480),
      '5_tk girl/1.txt': 'tk, 1girl, smile',
      '5_tk girl/2.bmp': makeBmp(30, 20),
      '5_tk girl/3.Png': png(8, 8),
      '5_tk girl/4.gif': 'GIF89a',
      '5_tk girl/lost.txt': 'x',
      '5_tk girl/nested/deep.png': png(8, 8),
      '画像 フォルダ/猫 1.png': png(100, 50),
      'misc/zero.png': '',
      'misc/text.jpg': 'not an image at all',
    });
    let listedFirst: Array<number | undefined> = [];
    const index = await DatasetIndex.build(dir, {
      depth: 2,
      tagExtension: '.txt',
      // the listing is complete before any header is read
      onListed: (ix) => (listedFirst = [ix.imageCount, ix.image(path.join(dir, '5_tk girl', '1.png'))?.width]),
    });
    assert.deepEqual(listedFirst, [6, undefined]);
    assert.deepEqual(index.folders().map((f) => f.relPath), ['5_tk girl', '5_tk girl/nested', 'misc', '画像 フォルダ']);
    const concept = index.folder(path.join(dir, '5_tk girl'));
    assert.deepEqual(concept?.images, ['1.png', '2.bmp']);
    assert.deepEqual(concept?.concept, { ok: true, repeats: 5, classTokens: 'tk girl' });
    assert.deepEqual(concept?.skipped.map((s) => [s.name, s.kind]), [['3.Png', 'mixedCase'], ['4.gif', 'notLoaded']]);
    assert.deepEqual(concept?.orphanSidecars, ['lost.txt']);
    assert.match(index.folder(path.join(dir, '5_tk girl', 'nested'))?.skipReason ?? '', /directly in it/);
    const one = index.image(path.join(dir, '5_tk girl', '1.png'));
    assert.deepEqual([one?.width, one?.height, one?.sidecars, one?.tags], [640, 480, { '.txt': '1.txt' }, ['tk', '1girl', 'smile']]);
    assert.deepEqual([index.image(path.join(dir, '5_tk girl', '2.bmp'))?.width, index.image(path.join(dir, '5_tk girl', '2.bmp'))?.format], [30, 'bmp']);
    const cjk = index.image(path.join(dir, '画像 フォルダ', '猫 1.png'));
    assert.deepEqual([cjk?.width, cjk?.height], [100, 50]);
    // bad files are indexed with their problem, not dropped
    assert.deepEqual(index.problems(path.join(dir, 'misc', 'zero.png')).map((p) => p.code), ['emptyFile']);
    assert.equal(index.problems(path.join(dir, 'misc', 'text.jpg'))[0]?.code, 'notAnImage');
    assert.equal(index.imageCount, 6);
  });
  it('survives symlink loops, broken links, names that are not UTF-8 and unreadable folders', async (t) => {
    const dir = tempDir(t);
    tree(dir, { 'a/1.png': png(4, 4), 'locked/2.png': png(4, 4) });
    symlinkSync(path.join(dir, 'a'), path.join(dir, 'a', 'loop'));
    symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'a', 'broken.png'));
    const badName = Buffer.concat([Buffer.from(path.join(dir, 'a') + path.sep), Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x70, 0x6e, 0x67])]);
    writeFileSync(badName, png(4, 4));
    chmodSync(path.join(dir, 'locked'), 0o000);
    const index = await DatasetIndex.build(dir, { depth: 5 }).finally(() => chmodSync(path.join(dir, 'locked'), 0o755));
    const issues = index.issues.map((i) => [path.relative(dir, i.path), i.code]);
    assert.ok(issues.some(([p, c]) => p === path.join('a', 'loop') && c === 'symlinkLoop'), JSON.stringify(issues));
    assert.ok(issues.some(([p, c]) => p === path.join('a', 'broken.png') && c === 'unreadableFile'));
    assert.ok(issues.some(([, c]) => c === 'invalidName'));
    assert.deepEqual(index.folder(path.join(dir, 'a'))?.images, ['1.png']);
    const runningAsRoot = process.getuid?.() === 0;
    if (runningAsRoot) assert.deepEqual(index.folder(path.join(dir, 'locked'))?.images, ['2.png']);
    else assert.ok(issues.some(([p, c]) => p === 'locked' && c === 'unreadableFolder'));
  });
  it('lists a folder longer than one read of the listing like scanDataset, links and subfolders included', async (t) => {
    const dir = tempDir(t);
    const d = path.join(dir, '2_big');
    mkdirSync(d);
    for (let i = 0; i < 2600; i++) {
      writeFileSync(path.join(d, `${i}.png`), png(1 + (i % 5), 2));
      if (i % 3) writeFileSync(path.join(d, `${i}.txt`), 'a, b');
      if (i % 500 === 7) mkdirSync(path.join(d, `sub ${i}.png`));
    }
    symlinkSync(path.join(d, '5.png'), path.join(d, 'link.png'));
    symlinkSync(path.join(d, '5.txt'), path.join(d, 'link.txt'));
    writeFileSync(path.join(d, 'lost.txt'), 'no image');
    const index = await DatasetIndex.build(dir, { depth: 2 });
    assert.deepEqual(index.toScanResult(), await scanDataset(dir, { depth: 2 }));
    const f = index.folder(d);
    assert.equal(f?.images.length, 2601);
    assert.deepEqual(f?.orphanSidecars, ['lost.txt']);
    assert.deepEqual(index.image(path.join(d, 'link.png'))?.sidecars, { '.txt': 'link.txt' });
    assert.equal(index.image(path.join(d, '2599.png'))?.width, 5);
  });
  it('gives an empty index with an issue for a missing root', async (t) => {
    const index = await DatasetIndex.build(path.join(tempDir(t), 'nope'));
    assert.equal(index.imageCount, 0);
    assert.equal(index.issues[0]?.code, 'unreadableFolder');
  });
});

describe('dataset index: queries', () => {
  it('pages, filters by name, problem and tag, and sorts', async (t) => {
    const dir = tempDir(t);
    const files: Record<string, string | Buffer> = {};
    for (let i = 1; i <= 25; i++) {
      files[`1_x/${i}.png`] = png(1024 + i, 1024);
      if (i % 5 === 0) files[`1_x/${i}.txt`] = i % 10 === 0 ? 'red, blue' : 'red';
    }
    files['1_x/small.png'] = png(64, 64);
    tree(dir, files);
    const index = await DatasetIndex.build(dir, { tagExtension: 'txt' });
    const page = index.query({ offset: 10, limit: 5 });
    assert.equal(page.total, 26);
    assert.deepEqual(page.items.map((i) => i.name), ['11.png', '12.png', '13.png', '14.png', '15.png']);
    assert.deepEqual(index.query({ name: '2' }).items.map((i) => i.name), ['2.png', '12.png', '20.png', '21.png', '22.png', '23.png', '24.png', '25.png']);
    assert.deepEqual(index.query({ problem: 'tooSmall' }).items.map((i) => i.name), ['small.png']);
    assert.equal(index.query({ problem: 'imageWithoutCaption' }).total, 21);
    assert.deepEqual(index.query({ tags: ['Blue', 'red'] }).items.map((i) => i.name), ['10.png', '20.png']);
    assert.deepEqual(index.query({ sort: 'width', descending: true, limit: 2 }).items.map((i) => i.name), ['25.png', '24.png']);
    assert.deepEqual(index.query({ folder: path.join(dir, 'nope') }), { total: 0, items: [] });
  });
});

describe('dataset index: incremental updates', () => {
  it('adds, changes and removes images and sidecars with minimal deltas', async (t) => {
    const dir = tempDir(t);
    tree(dir, { '3_c/a.png': png(10, 10), '3_c/a.txt': 'x', '3_c/b.png': png(20, 20) });
    const index = await DatasetIndex.build(dir, { tagExtension: '.txt' });
    const c = path.join(dir, '3_c');

    writeFileSync(path.join(c, 'c.png'), png(30, 15));
    let d = await index.update([{ path: path.join(c, 'c.png'), kind: 'created' }]);
    assert.deepEqual(d, { added: [path.join(c, 'c.png')], changed: [], removed: [], folders: [c], removedFolders: [] });
    assert.deepEqual(index.folder(c)?.images, ['a.png', 'b.png', 'c.png']);
    assert.equal(index.image(path.join(c, 'c.png'))?.width, 30);
    assert.equal(index.imageCount, 3);
    assert.deepEqual(index.query({ folder: c }).items.map((i) => i.name), ['a.png', 'b.png', 'c.png']);

    writeFileSync(path.join(c, 'b.txt'), 'new, tags');
    d = await index.update([{ path: path.join(c, 'b.txt') }]);
    assert.deepEqual(d.changed, [path.join(c, 'b.png')]);
    assert.deepEqual(index.image(path.join(c, 'b.png'))?.sidecars, { '.txt': 'b.txt' });
    assert.deepEqual(index.image(path.join(c, 'b.png'))?.tags, ['new', 'tags']);

    writeFileSync(path.join(c, 'b.png'), png(50, 60));
    d = await index.update([{ path: path.join(c, 'b.png'), kind: 'changed' }]);
    assert.deepEqual(d.changed, [path.join(c, 'b.png')]);
    assert.deepEqual([index.image(path.join(c, 'b.png'))?.width, index.image(path.join(c, 'b.png'))?.height], [50, 60]);

    unlinkSync(path.join(c, 'a.png'));
    d = await index.update([{ path: path.join(c, 'a.png'), kind: 'deleted' }]);
    assert.deepEqual(d.removed, [path.join(c, 'a.png')]);
    assert.equal(index.image(path.join(c, 'a.png')), undefined);
    assert.equal(index.imageCount, 2);
    assert.deepEqual(index.query({ folder: c, limit: 1 }), { total: 2, items: [index.image(path.join(c, 'b.png'))] });
    assert.deepEqual(index.folder(c)?.orphanSidecars, ['a.txt']);

    // a file that changed back to garbage gets its problem
    writeFileSync(path.join(c, 'c.png'), '');
    await index.update([{ path: path.join(c, 'c.png') }]);
    assert.equal(index.problems(path.join(c, 'c.png'))[0]?.code, 'emptyFile');

    // the incremental state equals a fresh build
    const fresh = await DatasetIndex.build(dir, { tagExtension: '.txt' });
    assert.deepEqual(index.toScanResult(), fresh.toScanResult());
  });
  it('indexes a new folder on its own and drops a removed one', async (t) => {
    const dir = tempDir(t);
    tree(dir, { '1_a/x.png': png(4, 4) });
    const index = await DatasetIndex.build(dir);
    tree(dir, { '2_b/y.png': png(5, 5), '2_b/y.txt': 'tag' });
    let d = await index.update([{ path: path.join(dir, '2_b'), kind: 'created' }]);
    assert.deepEqual(d.added, [path.join(dir, '2_b', 'y.png')]);
    assert.deepEqual(d.folders, [path.join(dir, '2_b')]);
    assert.deepEqual(index.folders().map((f) => f.relPath), ['1_a', '2_b']);
    // the records are kept per folder: count, lookup (also by a relative path) and listing agree
    assert.equal(index.imageCount, 2);
    assert.equal(index.image(path.relative(process.cwd(), path.join(dir, '2_b', 'y.png')))?.width, 5);
    assert.deepEqual([...index.allImages()].map((i) => i.name), ['x.png', 'y.png']);
    rmSync(path.join(dir, '1_a'), { recursive: true });
    d = await index.update([{ path: path.join(dir, '1_a'), kind: 'deleted' }]);
    assert.deepEqual(d.removed, [path.join(dir, '1_a', 'x.png')]);
    assert.deepEqual(d.removedFolders, [path.join(dir, '1_a')]);
    assert.deepEqual(index.folders().map((f) => f.relPath), ['2_b']);
    assert.equal(index.imageCount, 1);
    assert.equal(index.image(path.join(dir, '1_a', 'x.png')), undefined);
    assert.deepEqual([...index.allImages()].map((i) => i.name), ['y.png']);
    // outside the root or too deep: ignored, no throw
    d = await index.update([{ path: '/definitely/not/here.png' }, { path: path.join(dir, '2_b', 'deep', 'z.png') }]);
    assert.deepEqual(d, { added: [], changed: [], removed: [], folders: [], removedFolders: [] });
  });
  it('keeps the left-out entries for broken links and names that are not UTF-8 in step with the folder', async (t) => {
    const dir = tempDir(t);
    tree(dir, { '1_a/x.png': png(4, 4) });
    const a = path.join(dir, '1_a');
    const broken = path.join(a, 'broken.png');
    symlinkSync(path.join(dir, 'nowhere'), broken);
    const badBytes = Buffer.concat([Buffer.from(a + path.sep), Buffer.from([0x66, 0xff, 0x2e, 0x70, 0x6e, 0x67])]);
    writeFileSync(badBytes, png(4, 4));
    const index = await DatasetIndex.build(dir);
    const leftOut = (): string[] => index.issues.map((i) => `${i.code} ${path.relative(dir, i.path)}`).sort();
    const bad = path.join(a, 'f\ufffd.png');
    assert.deepEqual(leftOut(), [`invalidName ${path.join('1_a', 'f\ufffd.png')}`, `unreadableFile ${path.join('1_a', 'broken.png')}`]);

    // the broken link is removed: its entry goes, and the folder is reported as changed
    unlinkSync(broken);
    let d = await index.update([{ path: broken, kind: 'deleted' }]);
    assert.deepEqual(leftOut(), [`invalidName ${path.join('1_a', 'f\ufffd.png')}`]);
    assert.deepEqual(d.folders, [a]);

    // a new broken link appears
    const other = path.join(a, 'other.jpg');
    symlinkSync(path.join(dir, 'gone'), other);
    d = await index.update([{ path: other, kind: 'created' }]);
    assert.ok(leftOut().includes(`unreadableFile ${path.join('1_a', 'other.jpg')}`), leftOut().join('; '));
    assert.deepEqual(d.folders, [a]);
    // an event on it that changes nothing reports nothing
    d = await index.update([{ path: other, kind: 'changed' }]);
    assert.deepEqual(d.folders, []);

    // the file with the bad name is renamed to a good one (a watcher names the old one with U+FFFD)
    renameSync(badBytes, path.join(a, 'fixed.png'));
    d = await index.update([{ path: bad, kind: 'deleted' }, { path: path.join(a, 'fixed.png'), kind: 'created' }]);
    assert.deepEqual(leftOut(), [`unreadableFile ${path.join('1_a', 'other.jpg')}`]);
    assert.deepEqual(index.folder(a)?.images, ['fixed.png', 'x.png']);
    assert.deepEqual(d.added, [path.join(a, 'fixed.png')]);

    // and the incremental issues equal a fresh build's
    const fresh = await DatasetIndex.build(dir);
    assert.deepEqual(leftOut(), fresh.issues.map((i) => `${i.code} ${path.relative(dir, i.path)}`).sort());
  });
});

describe('dataset index: empty concept folders', () => {
  it('lists an empty N_name folder (new, or after its last image is deleted) with the reason sd-scripts leaves it out', async (t) => {
    const dir = tempDir(t);
    tree(dir, { 'train/2_c/a.png': png(8, 8), 'train/2_c/a.txt': 'x' });
    mkdirSync(path.join(dir, 'train', '4_new dog'));
    mkdirSync(path.join(dir, 'train', '0_zero'));
    mkdirSync(path.join(dir, 'train', 'notes'));
    const index = await DatasetIndex.build(dir, { depth: 3 });
    // a plain empty folder stays hidden; folders named like concept folders are shown
    assert.deepEqual(index.folders().map((f) => f.relPath), ['train/0_zero', 'train/2_c', 'train/4_new dog']);
    const scan = (rel: string) => {
      const f = index.folder(path.join(dir, rel));
      assert.ok(f, rel);
      return index.folderScan(f);
    };
    assert.equal(scan('train/4_new dog').images.length, 0);
    assert.match(emptyFolderReason(scan('train/4_new dog')) ?? '', /^no images yet: sd-scripts leaves out a concept folder without images/);
    assert.match(emptyFolderReason(scan('train/0_zero')) ?? '', /no images yet, and repeat count 0 is below 1/);
    assert.equal(emptyFolderReason(scan('train/2_c')), undefined);

    // the last image goes: the folder stays, empty, with the caption left as an orphan
    const c = path.join(dir, 'train', '2_c');
    unlinkSync(path.join(c, 'a.png'));
    const d = await index.update([{ path: path.join(c, 'a.png'), kind: 'deleted' }]);
    assert.deepEqual(d.removedFolders, []);
    assert.deepEqual(index.folders().map((f) => f.relPath), ['train/0_zero', 'train/2_c', 'train/4_new dog']);
    assert.match(emptyFolderReason(scan('train/2_c')) ?? '', /no images yet/);
    // an image arrives in the new folder: an ordinary concept folder
    writeFileSync(path.join(dir, 'train', '4_new dog', 'b.png'), png(8, 8));
    await index.update([{ path: path.join(dir, 'train', '4_new dog', 'b.png') }]);
    assert.equal(emptyFolderReason(scan('train/4_new dog')), undefined);
    // removing the folder itself removes it from the list
    rmSync(path.join(dir, 'train', '0_zero'), { recursive: true });
    await index.update([{ path: path.join(dir, 'train', '0_zero'), kind: 'deleted' }]);
    assert.deepEqual(index.folders().map((f) => f.relPath), ['train/2_c', 'train/4_new dog']);
  });
});
