import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import {
  checkMetadataKeys,
  cleanCaption,
  cleanTags,
  formatMetadata,
  mergeCaptionsAndTags,
  parseMetadata,
  readMetadata,
  writeMetadata,
  type Metadata,
} from '../../src/core/dataset/metadata';
import { SAMPLE_TRAIN, tempDir } from './helpers';

const CONCEPT = path.join(SAMPLE_TRAIN, '5_tk girl');

function folder(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const dir = tempDir(t);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

describe('merging captions and tags into metadata', () => {
  it('merges the sample dataset with full-path keys, tags from .txt, and warns about missing captions', async () => {
    const r = await mergeCaptionsAndTags(CONCEPT);
    assert.equal(r.images, 14);
    assert.equal(r.tags, 14);
    assert.equal(r.captions, 0);
    assert.equal(r.warnings.filter((w) => w.code === 'noCaption').length, 14);
    const first = [...r.metadata.keys()][0] as string;
    assert.equal(first, path.join(CONCEPT, '1.png'));
    const tags = readFileSync(path.join(CONCEPT, '1.txt'), 'utf8').trim();
    assert.deepEqual(r.metadata.get(first), { tags });
    // sorted like Python's sorted(): 1.png, 10.png, 11.png … 2.png
    assert.equal(path.basename([...r.metadata.keys()][1] as string), '10.png');
  });
  it('puts caption before tags, strips like Python, keeps other keys of the base metadata', async (t) => {
    const dir = folder(t, { 'a.png': '', 'a.caption': ' a girl \n', 'a.txt': '1girl, solo\n\n', 'b.jpg': '', 'b.txt': 'tk', 'c.webp': '', 'c.caption': '\ufeffbom' });
    const base: Metadata = new Map([['/elsewhere/x.png', { caption: 'keep', train_resolution: [1024, 1024] }], [path.join(dir, 'a.png'), { image_size: [10, 20] }]]);
    const r = await mergeCaptionsAndTags(dir, { base });
    assert.deepEqual([...r.metadata.keys()], ['/elsewhere/x.png', path.join(dir, 'a.png'), path.join(dir, 'b.jpg'), path.join(dir, 'c.webp')]);
    assert.deepEqual(r.metadata.get(path.join(dir, 'a.png')), { image_size: [10, 20], caption: 'a girl', tags: '1girl, solo' });
    assert.deepEqual(r.metadata.get(path.join(dir, 'b.jpg')), { tags: 'tk' });
    // a byte-order mark is not white space to Python: it stays
    assert.deepEqual(r.metadata.get(path.join(dir, 'c.webp')), { caption: '\ufeffbom' });
    assert.deepEqual(r.warnings.map((w) => `${w.code} ${path.basename(w.image ?? '')}`), ['noCaption b.jpg', 'noTags c.webp']);
  });
  it('writes bare-stem keys only when asked, with the warning that current sd-scripts cannot resolve them', async (t) => {
    const dir = folder(t, { '1.png': '', '1.txt': 'a', '2.png': '', '2.txt': 'b', '1.jpg': '', '1.caption': 'x' });
    const r = await mergeCaptionsAndTags(dir, { fullPath: false });
    // integer-like keys keep Python's insertion order (a JavaScript object would not)
    assert.equal(formatMetadata(r.metadata), '{\n  "1": {\n    "caption": "x"\n  },\n  "2": {\n    "tags": "b"\n  }\n}'.replace('"caption": "x"\n', '"caption": "x",\n    "tags": "a"\n'));
    assert.ok(r.warnings.some((w) => w.code === 'bareStemKeys' && /c6bc632e/.test(w.message)));
    assert.ok(r.warnings.some((w) => w.code === 'duplicateStem'));
    const rec = await mergeCaptionsAndTags(dir, { fullPath: false, recursive: true });
    assert.ok(rec.warnings.some((w) => w.code === 'recursiveNeedsFullPath'));
    assert.ok([...rec.metadata.keys()].every((k) => path.isAbsolute(k)));
  });
  it('visits subfolders with recursive, and uses other extensions', async (t) => {
    const dir = folder(t, { 'top.png': '', 'top.tags': 'x', 'sub/in.png': '', 'sub/in.tags': 'y', 'sub/in.cap': 'c' });
    const flat = await mergeCaptionsAndTags(dir, { tagExtension: '.tags', captionExtension: '.cap' });
    assert.equal(flat.images, 1);
    const r = await mergeCaptionsAndTags(dir, { tagExtension: '.tags', captionExtension: '.cap', recursive: true });
    assert.deepEqual(r.metadata.get(path.join(dir, 'sub', 'in.png')), { caption: 'c', tags: 'y' });
  });
  it('writes JSON like json.dump(indent=2): ASCII escapes, atomically', async (t) => {
    const dir = tempDir(t);
    const m: Metadata = new Map([['/d/é.png', { caption: 'café ☕', tags: 'a, b', train_resolution: [1024, 768] }]]);
    const out = path.join(dir, 'meta_clean.json');
    await writeMetadata(out, m);
    assert.equal(
      readFileSync(out, 'utf8'),
      '{\n  "/d/\\u00e9.png": {\n    "caption": "caf\\u00e9 \\u2615",\n    "tags": "a, b",\n    "train_resolution": [\n      1024,\n      768\n    ]\n  }\n}',
    );
    assert.deepEqual(readdirSync(dir), ['meta_clean.json']);
    const back = await readMetadata(out);
    assert.ok(back.ok);
    assert.deepEqual([...back.metadata], [...m]);
  });
});

describe('reading metadata and checking its keys', () => {
  it('keeps key order, reads .jsonl, and reports bad input without throwing', () => {
    const p = parseMetadata('{"2": {"tags": "a"}, "1": {"caption": "b, \\"q\\" {x}"}, "10": {}}');
    assert.ok(p.ok);
    assert.deepEqual([...p.metadata.keys()], ['2', '1', '10']);
    assert.deepEqual(p.metadata.get('1'), { caption: 'b, "q" {x}' });
    const l = parseMetadata('{"image_path": "/a.png", "caption": "c", "image_size": [1, 2]}\n\n', true);
    assert.ok(l.ok);
    assert.deepEqual(l.metadata.get('/a.png'), { caption: 'c', image_size: [1, 2] });
    assert.ok(!parseMetadata('[1]').ok);
    assert.ok(!parseMetadata('{').ok);
    assert.ok(!parseMetadata('{"x": 1}\n', true).ok);
    assert.ok(!parseMetadata(undefined as unknown as string).ok);
  });
  it('merging does not throw on a missing or absent folder', async () => {
    assert.equal((await mergeCaptionsAndTags(undefined as never, undefined)).images, 0);
    assert.equal((await mergeCaptionsAndTags('/no/such/folder')).images, 0);
  });
  it('reports keys that do not resolve to images, telling bare stems apart', async (t) => {
    const dir = folder(t, { 'img/1.png': '', 'img/2.jpg': '', 'img/sub/3.png': '' });
    const img = path.join(dir, 'img');
    const m: Metadata = new Map([
      [path.join(img, '1.png'), {}],
      ['2.jpg', {}],
      ['1', {}],
      ['sub/3.png', {}],
      ['gone.png', {}],
      ['img/1.png', {}],
    ]);
    const r = await checkMetadataKeys(m, img, dir);
    assert.equal(r.resolved, 4);
    assert.deepEqual(
      r.problems.map((p) => [p.key, p.reason]),
      [
        ['1', 'bareStem'],
        ['gone.png', 'missing'],
        ['img/1.png', 'relativeToCwd'],
      ],
    );
    assert.equal(r.problems[0]?.image, path.join(img, '1.png'));
  });
});

describe('clean_captions_and_tags rules', () => {
  it('replaces underscores except in ^_^ and cuts a DeepDanbooru rating tail', () => {
    assert.equal(cleanTags('long_hair, ^_^, blue_eyes'), 'long hair, ^_^, blue eyes');
    assert.equal(cleanTags('1girl, solo, rating:safe'), '1girl, solo');
    assert.equal(cleanTags(''), '');
  });
  it('drops a one-word tag that a longer tag ends with', () => {
    assert.equal(cleanTags('white shirt, shirt, skirt'), 'white shirt, skirt');
    assert.equal(cleanTags('hair ornament, red hair ornament, bow'), 'red hair ornament, bow');
  });
  it('with several people, removes hair, eye and sleeve tags that occur more than once, keeping one hair length', () => {
    assert.equal(cleanTags('2girls, blue eyes, red eyes, long hair, blonde hair, black hair, smile'), '2girls, long hair, smile');
    assert.equal(cleanTags('2girls, blue eyes, black hair'), '2girls, blue eyes, black hair');
    assert.equal(cleanTags('multiple boys, long sleeves, short sleeves, ponytail, twintails'), 'multiple boys');
    // one person: nothing removed
    assert.equal(cleanTags('1girl, blue eyes, red eyes'), '1girl, blue eyes, red eyes');
  });
  it('applies the caption replacements in order, repeatedly', () => {
    assert.equal(cleanCaption('a cartoon woman and a young anime anime girl'), 'a girl and a girl');
    assert.equal(cleanCaption('people with a person'), 'girls with a girl');
    assert.equal(cleanCaption('girl girl girl'), 'girl');
  });
  it('can be applied while merging', async (t) => {
    const dir = folder(t, { 'a.png': '', 'a.txt': 'white_shirt, shirt', 'a.caption': 'a woman' });
    const r = await mergeCaptionsAndTags(dir, { clean: true });
    assert.deepEqual(r.metadata.get(path.join(dir, 'a.png')), { caption: 'a girl', tags: 'white shirt' });
  });
});
