import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { decodeCaption, pyStrip, readCaptionFile, tagsForFrequency } from '../../src/core/captions/readCaption';
import { buildOverview } from '../../src/core/dataset/overview';
import { scanDataset } from '../../src/core/dataset/scan';
import { groupDatasets } from '../../src/core/dataset/groups';
import { SAMPLE_TRAIN, tempDir } from './helpers';

const enc = (s: string) => new TextEncoder().encode(s);
const codes = (s: string | Uint8Array) => decodeCaption(typeof s === 'string' ? enc(s) : s).problems.map((p) => p.code);

describe('reading a caption file like sd-scripts', () => {
  it('uses the first line, stripped the way Python strips', () => {
    assert.equal(decodeCaption(enc('  tk, girl \r\nsecond')).firstLine, 'tk, girl');
    assert.equal(pyStrip('\u3000a\u00a0'), 'a');
    // a BOM is not white space to Python: it stays on the first tag
    assert.equal(pyStrip('\ufeffa'), '\ufeffa');
    assert.equal(decodeCaption(enc('\ufefftk, girl')).firstLine, '\ufefftk, girl');
  });
  it('names what sd-scripts does with bad files', () => {
    assert.deepEqual(codes(''), ['empty']);
    assert.deepEqual(codes('\n'), ['blank']);
    assert.deepEqual(codes('\ufefftk'), ['bom']);
    assert.deepEqual(codes('a\nb'), ['multiLine']);
    assert.deepEqual(codes('a\n\n  \n'), []);
    assert.deepEqual(codes(new Uint8Array([0x74, 0x6b, 0xff])), ['notUtf8']);
    // Latin-1 "café" is not UTF-8
    assert.deepEqual(codes(new Uint8Array([0x63, 0x61, 0x66, 0xe9])), ['notUtf8']);
  });
  it('reports an unreadable file instead of throwing', async (t) => {
    const r = await readCaptionFile(path.join(tempDir(t), 'missing.txt'));
    assert.equal(r.problems[0]?.code, 'unreadable');
  });
  it('counts tags like ss_tag_frequency', () => {
    assert.deepEqual(tagsForFrequency(' Tk,  1girl ,, Solo'), ['tk', '1girl', 'solo']);
  });
});

describe('dataset overview', () => {
  it('summarises the sample dataset', async () => {
    const scan = await scanDataset(SAMPLE_TRAIN);
    const [group] = groupDatasets(scan.folders);
    assert.ok(group);
    const o = await buildOverview(group);
    assert.equal(o.title, 'img_train');
    assert.deepEqual(o.concepts.map((c) => [c.name, c.repeats, c.classTokens, c.images, c.samplesPerEpoch]), [
      ['5_tk girl', 5, 'tk girl', 14, 70],
    ]);
    assert.equal(o.captionFiles, 14);
    assert.deepEqual(o.topTags.find((t) => t.tag === 'tk'), { tag: 'tk', count: 14 });
    assert.equal(o.topTags[0]?.count, 14);
    assert.deepEqual(o.problems, []);
  });
  it('lists caption files that would stop training', async (t) => {
    const dir = tempDir(t);
    const sub = path.join(dir, '3_x');
    mkdirSync(sub);
    for (const n of ['a', 'b', 'c']) writeFileSync(path.join(sub, `${n}.png`), '');
    writeFileSync(path.join(sub, 'a.txt'), '');
    writeFileSync(path.join(sub, 'b.txt'), Buffer.from([0x78, 0xff]));
    writeFileSync(path.join(sub, 'c.txt'), 'x, Y, x');
    const [group] = groupDatasets((await scanDataset(dir)).folders);
    assert.ok(group);
    const o = await buildOverview(group);
    assert.deepEqual(o.problems.map((p) => [path.basename(p.file), p.code]), [
      ['a.txt', 'empty'],
      ['b.txt', 'notUtf8'],
    ]);
    // a tag counts once per file
    assert.deepEqual(o.topTags, [
      { tag: 'x', count: 1 },
      { tag: 'y', count: 1 },
    ]);
    assert.equal(o.concepts[0]?.samplesPerEpoch, 9);
  });
});
