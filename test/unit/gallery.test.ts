import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import {
  compileTagQuery,
  formatTagQuery,
  parseTagQuery,
  tagFilter,
  TagQueryError,
  TagVocabulary,
  type TagQueryDoc,
} from '../../src/core/dataset/tagQuery';
import { columnsFor, gridWindow, MAX_SCROLL_HEIGHT, pagesFor, scrollTopFor } from '../../src/core/gallery/virtualGrid';
import * as sel from '../../src/core/gallery/selection';
import { ThumbnailQueue, thumbnailKey, thumbnailPath } from '../../src/core/gallery/thumbnails';
import { GalleryModel } from '../../src/core/gallery/model';
import { makeThumbnail } from '../../src/workers/thumbnails';
import { loadSharp, makePng } from './dataset-fixtures';
import { SAMPLE_TRAIN, tempDir } from './helpers';

function docs(vocab: TagVocabulary, list: Array<{ name: string; tags: string[] }>): TagQueryDoc[] {
  return list.map((d) => ({ name: d.name.toLowerCase(), text: d.tags.join(', ').toLowerCase(), tagIds: d.tags.map((t) => vocab.intern(t)) }));
}

const corpus = [
  { name: '001.png', tags: ['1girl', 'smile', 'long_hair', 'hat'] },
  { name: '002.png', tags: ['1girl', 'grin', 'short hair'] },
  { name: '003.png', tags: ['1boy', 'smile', 'blue_eyes'] },
  { name: 'red dress.png', tags: ['1girl', 'smile', 'red dress', 'green_eyes'] },
  { name: '005.png', tags: [] },
];

function run(q: string): string[] {
  const vocab = new TagVocabulary();
  const ds = docs(vocab, corpus);
  const p = tagFilter(q, vocab);
  return ds.filter(p).map((d) => d.name);
}

function errorOf(q: string): TagQueryError {
  try {
    parseTagQuery(q);
  } catch (e) {
    assert.ok(e instanceof TagQueryError, String(e));
    return e;
  }
  assert.fail(`"${q}" should not parse`);
}

describe('tag query: parsing', () => {
  it('gives AND precedence over OR, and NOT over AND', () => {
    assert.equal(formatTagQuery(parseTagQuery('a OR b AND NOT c')!), '(a OR (b AND NOT c))');
    assert.equal(formatTagQuery(parseTagQuery('1girl AND (smile OR grin) AND NOT hat')!), '(1girl AND (smile OR grin) AND NOT hat)');
  });
  it('reads symbols, implicit AND, quotes and prefixes', () => {
    assert.equal(formatTagQuery(parseTagQuery('a b | !c & -d')!), '((a AND b) OR (NOT c AND NOT d))');
    assert.equal(formatTagQuery(parseTagQuery('"long hair" name:001 text:"red dress"')!), '("long hair" AND name:"001" AND text:"red dress")');
    // `_` and spaces are the same, case does not matter
    assert.deepEqual(parseTagQuery('Long_Hair'), { kind: 'tag', tag: 'long hair', wildcard: false, pos: 0 });
    // lower-case operator words are tags (a tag may be called "and")
    assert.equal(formatTagQuery(parseTagQuery('and or')!), '(and AND or)');
    assert.equal(parseTagQuery('   '), undefined);
  });
  it('names the problem and its position', () => {
    let e = errorOf('1girl AND (smile OR grin');
    assert.equal(e.position, 10);
    assert.match(e.message, /"\(" opened here is never closed.*character 11/);
    e = errorOf('smile AND');
    assert.equal(e.position, 9);
    assert.match(e.message, /ends after AND/);
    e = errorOf('smile) hat');
    assert.equal(e.position, 5);
    assert.match(e.message, /no matching "\("/);
    e = errorOf('a AND OR b');
    assert.equal(e.position, 6);
    assert.match(e.message, /Expected a tag, found OR/);
    e = errorOf('a "unclosed tag');
    assert.equal(e.position, 2);
    assert.match(e.message, /quote opened here is never closed/);
    e = errorOf('()');
    assert.equal(e.position, 0);
    e = errorOf('name: x');
    assert.match(e.message, /needs the text/);
  });
});

describe('tag query: evaluation', () => {
  it('filters by a 4-term expression', () => {
    assert.deepEqual(run('1girl AND (smile OR grin) AND NOT hat'), ['002.png', 'red dress.png']);
  });
  it('matches quoted tags with spaces, underscores as spaces, and wildcards', () => {
    assert.deepEqual(run('"red dress"'), ['red dress.png']);
    assert.deepEqual(run('"long hair" OR short_hair'), ['001.png', '002.png']);
    assert.deepEqual(run('*_eyes'), ['003.png', 'red dress.png']);
    assert.deepEqual(run('*hair AND NOT 1girl'), []);
  });
  it('matches file names and caption text', () => {
    assert.deepEqual(run('name:red'), ['red dress.png']);
    assert.deepEqual(run('text:dress'), ['red dress.png']);
    assert.deepEqual(run('text:00 AND NOT smile'), ['002.png', '005.png']);
  });
  it('an unknown tag matches nothing, and NOT of it everything', () => {
    assert.deepEqual(run('nosuchtag'), []);
    assert.equal(run('NOT nosuchtag').length, corpus.length);
    assert.equal(run('').length, corpus.length);
  });
  it('compiles against the vocabulary it is given', () => {
    const vocab = new TagVocabulary();
    const p = compileTagQuery(parseTagQuery('smile'), vocab);
    // compiled before the tag existed: it cannot match (the model recompiles after updates)
    assert.equal(p({ name: 'x', text: '', tagIds: [vocab.intern('smile')] }), false);
    assert.equal(compileTagQuery(parseTagQuery('smile'), vocab)({ name: 'x', text: '', tagIds: [vocab.intern('smile')] }), true);
  });
});

describe('gallery virtual grid', () => {
  const base = { width: 1000, cellWidth: 200, cellHeight: 250, viewportHeight: 600, overscanRows: 1 };
  it('renders only the visible rows and one row either side', () => {
    assert.equal(columnsFor(1000, 200), 5);
    assert.equal(columnsFor(50, 200), 1);
    const w = gridWindow({ ...base, total: 100_000, scrollTop: 2500 });
    assert.equal(w.columns, 5);
    assert.equal(w.rows, 20_000);
    assert.equal(w.contentHeight, 5_000_000);
    assert.equal(w.scrollHeight, 5_000_000);
    // rows 10..12.4 visible → 9..14 rendered
    assert.deepEqual([w.firstRow, w.endRow, w.start, w.end], [9, 14, 45, 70]);
    assert.equal(w.offsetY, 9 * 250);
    assert.ok(w.end - w.start <= 5 * 6, 'never more than a screen and two rows of cells');
  });
  it('clamps at the ends and handles an empty list', () => {
    const top = gridWindow({ ...base, total: 12, scrollTop: -50 });
    assert.deepEqual([top.firstRow, top.endRow, top.start, top.end], [0, 3, 0, 12]);
    const none = gridWindow({ ...base, total: 0, scrollTop: 0 });
    assert.deepEqual([none.rows, none.start, none.end, none.scrollHeight], [0, 0, 0, 0]);
  });
  it('squeezes a grid taller than a browser can scroll, and still reaches the last row', () => {
    const input = { ...base, width: 200, total: 100_000 }; // one column: 25,000,000 px
    const w0 = gridWindow({ ...input, scrollTop: 0 });
    assert.equal(w0.contentHeight, 25_000_000);
    assert.equal(w0.scrollHeight, MAX_SCROLL_HEIGHT);
    const end = gridWindow({ ...input, scrollTop: MAX_SCROLL_HEIGHT });
    assert.equal(end.end, 100_000);
    // rendered rows sit on screen: the first visible row starts within the viewport
    const mid = gridWindow({ ...input, scrollTop: 4_000_000 });
    // the rendered rows cover the viewport [scrollTop, scrollTop + 600) in scroll space
    const renderedTop = mid.offsetY;
    const renderedBottom = mid.offsetY + (mid.endRow - mid.firstRow) * 250;
    assert.ok(renderedTop <= 4_000_000 && renderedBottom >= 4_000_000 + 600, `${renderedTop}..${renderedBottom}`);
    assert.ok(mid.endRow - mid.firstRow <= 5, 'a squeezed grid renders no more rows');
    // scrollTopFor is the inverse of the mapping
    const st = scrollTopFor(50_000, input);
    const back = gridWindow({ ...input, scrollTop: st });
    assert.ok(back.start <= 50_000 && back.end > 50_000, `${back.start}..${back.end}`);
  });
  it('lists the metadata pages a window needs', () => {
    assert.deepEqual(pagesFor(45, 70, 120), [0]);
    assert.deepEqual(pagesFor(100, 250, 120), [0, 1, 2]);
    assert.deepEqual(pagesFor(10, 10, 120), []);
  });
});

describe('gallery selection ranges', () => {
  it('adds, toggles, removes and counts', () => {
    let s: sel.RangeSet = [];
    s = sel.add(s, 0, 3);
    s = sel.add(s, 5, 6);
    s = sel.add(s, 3, 5);
    assert.deepEqual(s, [[0, 6]]);
    s = sel.toggle(s, 2);
    assert.deepEqual(s, [[0, 2], [3, 6]]);
    assert.equal(sel.count(s), 5);
    assert.equal(sel.has(s, 2), false);
    assert.equal(sel.has(s, 5), true);
    s = sel.toggle(s, 2);
    assert.deepEqual(s, [[0, 6]]);
    assert.deepEqual(sel.remove(s, 1, 4), [[0, 1], [4, 6]]);
    assert.deepEqual(sel.clamp([[0, 10], [20, 30]], 25), [[0, 10], [20, 25]]);
    assert.deepEqual(sel.fromIndices([7, 3, 4, 5, 9]), [[3, 6], [7, 8], [9, 10]]);
    assert.deepEqual(sel.indices([[3, 6], [9, 10]]), [3, 4, 5, 9]);
  });
  it('holds "select all" of 100,000 as one range', () => {
    const all: sel.RangeSet = [[0, 100_000]];
    assert.equal(sel.count(all), 100_000);
    assert.equal(sel.has(all, 99_999), true);
    assert.equal(sel.isRangeSet(all), true);
    assert.equal(sel.isRangeSet([[3, 1]]), false);
    assert.equal(sel.isRangeSet([['a', 1]]), false);
  });
});

describe('thumbnail cache keys and queue', () => {
  const src = { path: '/data/5_tk girl/1.png', size: 1234, mtimeMs: 1700000000123.4 };
  it('changes with path, size, mtime and thumbnail size, and only with them', () => {
    const k = thumbnailKey(src);
    assert.match(k, /^[0-9a-f]{40}$/);
    assert.equal(thumbnailKey({ ...src }), k);
    assert.equal(thumbnailKey({ ...src, mtimeMs: 1700000000123.9 }), k, 'sub-millisecond noise is ignored');
    assert.notEqual(thumbnailKey({ ...src, size: 1235 }), k);
    assert.notEqual(thumbnailKey({ ...src, mtimeMs: 1700000001000 }), k);
    assert.notEqual(thumbnailKey({ ...src, path: '/data/5_tk girl/2.png' }), k);
    assert.notEqual(thumbnailKey(src, 128), k);
    assert.equal(thumbnailPath('/cache', k), path.join('/cache', k.slice(0, 2), `${k}.webp`));
  });
  it('hands out the most important job first and drops what is no longer wanted', () => {
    const q = new ThumbnailQueue<{ key: string }>();
    q.want([{ key: 'a' }, { key: 'b' }, { key: 'c' }]);
    assert.equal(q.next()?.key, 'a');
    // scrolled: b is gone, d is first; a still runs and is not queued again
    q.want([{ key: 'd' }, { key: 'a' }, { key: 'c' }]);
    assert.equal(q.pendingCount, 2);
    assert.equal(q.next()?.key, 'd');
    assert.equal(q.next()?.key, 'c');
    assert.equal(q.next(), undefined);
    assert.equal(q.runningCount, 3);
    q.done('a');
    assert.equal(q.isRunning('a'), false);
  });
});

describe('thumbnail worker', () => {
  it('writes a WebP no larger than 256 px, and names the problem of a corrupt file', async (t) => {
    const dir = tempDir(t);
    const sharp = loadSharp();
    const good = path.join(dir, 'big image.png');
    writeFileSync(good, makePng({ width: 600, height: 300, pixel: (x) => x % 256 }));
    const out = path.join(dir, 'cache', 'ab', 'x.webp');
    assert.equal(await makeThumbnail(sharp, { file: good, out, size: 256 }), undefined);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 256, 128]);
    const bad = path.join(dir, 'bad.png');
    writeFileSync(bad, Buffer.concat([readFileSync(good).subarray(0, 60)]));
    const err = await makeThumbnail(sharp, { file: bad, out: path.join(dir, 'cache', 'bad.webp'), size: 256 });
    assert.match(err ?? "", /cut short/);
    const text = path.join(dir, 'text.png');
    writeFileSync(text, 'plain text, not an image');
    assert.match((await makeThumbnail(sharp, { file: text, out: path.join(dir, 'cache', 't.webp'), size: 256 })) ?? '', /not an image format that can be read/);
    assert.equal(existsSync(path.join(dir, 'cache', 'bad.webp')), false, 'no cache file for a corrupt image');
    const empty = path.join(dir, 'empty.png');
    writeFileSync(empty, '');
    assert.match((await makeThumbnail(sharp, { file: empty, out: path.join(dir, 'e.webp'), size: 256 })) ?? '', /empty/);
  });
});

describe('gallery model', () => {
  it('filters the sample dataset and pages it', async () => {
    const m = await GalleryModel.open(SAMPLE_TRAIN, { depth: 1 });
    assert.equal(m.total, 14);
    const all = m.page(0, 100);
    assert.equal(all.length, 14);
    assert.ok(all.every((i) => i.tags.startsWith('tk') && i.hasCaption && i.folder === '5_tk girl'), all[0]?.tags);
    const n = m.setQuery('tk AND NOT tk');
    assert.equal(n, 0);
    assert.equal(m.setQuery(''), 14);
    assert.equal(m.page(10, 20).length, 4);
  });
  it('gives a first page as soon as the folders are listed, before headers and tags are read', async () => {
    let previewTotal = -1;
    let previewPage: ReturnType<GalleryModel['page']> = [];
    let readAtPreview = true;
    const m = await GalleryModel.open(SAMPLE_TRAIN, { depth: 1 }, (p) => {
      previewTotal = p.total;
      assert.equal(p.preview, true);
      previewPage = p.page(0, 3);
      readAtPreview = p.index.allImages().next().value ? GalleryModel.isRead(p.index.allImages().next().value!) : true;
    });
    assert.equal(previewTotal, 14);
    assert.equal(readAtPreview, false, 'no header was read at the preview');
    assert.deepEqual(previewPage.map((i) => i.name), ['1.png', '2.png', '3.png']);
    assert.match(previewPage[0]?.tags ?? '', /^tk, 1girl, solo/, 'the page reads its own tag files');
    assert.equal(previewPage[0]?.width, undefined);
    assert.equal(m.preview, false);
    assert.equal(m.page(0, 1)[0]?.width, 512);
    assert.ok([...m.index.allImages()].every((i) => GalleryModel.isRead(i)));
    assert.equal(m.setQuery('blue_hair'), 14);
  });
  it('follows file changes: new, edited and deleted images, keeping the selection by path', async (t) => {
    const dir = tempDir(t);
    const c = path.join(dir, '3_cat');
    mkdirSync(c);
    for (const [n, tags] of [['a', 'cat, smile'], ['b', 'cat, hat'], ['c', 'cat, smile, hat']] as const) {
      writeFileSync(path.join(c, `${n}.png`), makePng({ width: 8, height: 8, pixel: () => 1 }));
      writeFileSync(path.join(c, `${n}.txt`), tags);
    }
    const m = await GalleryModel.open(dir, { depth: 1 });
    assert.equal(m.setQuery('smile AND NOT hat'), 1);
    m.setQuery('cat');
    const selected = m.pathsOf([[1, 3]]);
    assert.deepEqual(selected.map((p) => path.basename(p)), ['b.png', 'c.png']);
    // a new image before them, a tag edit, a deletion
    writeFileSync(path.join(c, '0.png'), makePng({ width: 8, height: 8, pixel: () => 1 }));
    writeFileSync(path.join(c, '0.txt'), 'cat, brand_new_tag');
    writeFileSync(path.join(c, 'a.txt'), 'dog');
    unlinkSync(path.join(c, 'b.png'));
    const r = await m.applyChanges([path.join(c, '0.png'), path.join(c, '0.txt'), path.join(c, 'a.txt'), path.join(c, 'b.png')].map((p) => ({ path: p })));
    assert.ok(r.changed.length >= 2 && r.removed.length === 1, JSON.stringify(r));
    assert.deepEqual(m.page(0, 10).map((i) => i.name), ['0.png', 'c.png']);
    assert.deepEqual(m.rangesOf(selected), [[1, 2]]);
    // a tag that appeared after the query was compiled is found
    assert.equal(m.setQuery('brand_new_tag'), 1);
  });
});
