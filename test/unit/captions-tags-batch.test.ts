import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import {
  bytesToUnicode,
  clipNormalise,
  clipPreTokens,
  ClipTokenizer,
  estimateClipTokens,
  loadClipTokenizer,
  parseMerges,
  tokenCounter,
} from '../../src/core/captions/clipTokenizer';
import { describePreview, opsFor, previewCreateMissing, previewGroups, splitTagInput } from '../../src/core/captions/tagBatch';
import { allTagRows, conceptTagRows, cooccurrenceText, filesWithTag, filterTagRows, sortTagRows } from '../../src/core/captions/tagStats';
import { CaptionIndex, lintCaption } from '../../src/core/captions/rules';
import { SAMPLE, tempDir } from './helpers';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

// a hand-made merges list: "hello" becomes one token, "world" four, "abc" depends on the order
const MERGES = ['#version: 0.2', 'h e', 'l l', 'he ll', 'hell o</w>', 'o r', 'b c</w>', 'a b', 'Ã ©</w>'];

describe('CLIP BPE tokenizer', () => {
  const tok = new ClipTokenizer(parseMerges(MERGES.join('\n')));

  it('maps bytes like GPT-2/CLIP (printable bytes as themselves, the rest shifted past 255)', () => {
    const t = bytesToUnicode();
    assert.equal(t.length, 256);
    assert.equal(t[0x61], 'a');
    assert.equal(t[32], 'Ġ');
    assert.equal(t[0xc3], 'Ã');
    assert.equal(new Set(t).size, 256);
  });

  it('cleans the text like CLIP: HTML unescaped twice, white space collapsed, lower case', () => {
    assert.equal(clipNormalise('  Blue&amp;amp;Hair \n\t SMILE  '), 'blue&hair smile');
    assert.equal(clipNormalise('&#65;&#x42;'), 'ab');
    assert.deepEqual(clipPreTokens("1girl, cat's tail!!"), ['1', 'girl', ',', 'cat', "'s", 'tail', '!!']);
  });

  it('merges by rank and counts tokens', () => {
    assert.deepEqual(tok.tokens('Hello hello, world!'), ['hello</w>', 'hello</w>', ',</w>', 'w', 'or', 'l', 'd</w>', '!</w>']);
    assert.equal(tok.count('Hello hello, world!'), 8);
    // 'b c</w>' ranks before 'a b': abc → a + bc
    assert.deepEqual(tok.tokens('abc'), ['a', 'bc</w>']);
    const swapped = new ClipTokenizer(['a b', 'b c</w>']);
    assert.deepEqual(swapped.tokens('abc'), ['ab', 'c</w>']);
    // UTF-8 bytes: é is two bytes, merged by the last rule
    assert.deepEqual(tok.tokens('é'), ['Ã©</w>']);
    assert.equal(tok.count(''), 0);
    assert.equal(tok.count('a'), 1);
  });

  it('gives ids from the vocabulary', () => {
    const t = new ClipTokenizer(parseMerges(MERGES.join('\n')), new Map([['hello</w>', 7], [',</w>', 3]]));
    assert.deepEqual(t.ids('hello, x'), [7, 3, -1]);
  });

  it('loads merges.txt + vocab.json, or the gzipped OpenAI file, and says what is wrong with a bad folder', (tc) => {
    const dir = tempDir(tc);
    const hf = path.join(dir, 'hf');
    mkdirSync(hf);
    writeFileSync(path.join(hf, 'merges.txt'), MERGES.join('\n') + '\n');
    writeFileSync(path.join(hf, 'vocab.json'), JSON.stringify({ 'hello</w>': 5 }));
    const a = loadClipTokenizer(hf);
    assert.equal(a.tokenizer.count('hello world'), 5);
    assert.deepEqual(a.tokenizer.ids('hello'), [5]);
    const oa = path.join(dir, 'openai');
    mkdirSync(oa);
    writeFileSync(path.join(oa, 'bpe_simple_vocab_16e6.txt.gz'), gzipSync(Buffer.from(MERGES.join('\n'))));
    assert.equal(loadClipTokenizer(oa).tokenizer.count('hello world'), 5);
    assert.throws(() => loadClipTokenizer(dir), /no merges\.txt or bpe_simple_vocab_16e6\.txt\.gz/);
    const bad = path.join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'bpe_simple_vocab_16e6.txt.gz'), 'not gzip');
    assert.throws(() => loadClipTokenizer(bad), /not a readable gzip file/);
  });

  it('finds the vocabulary in the Hugging Face cache, else falls back to a labelled estimate', (tc) => {
    const home = tempDir(tc);
    assert.equal(tokenCounter(null, { HOME: home }).estimate, true);
    const snap = path.join(home, '.cache', 'huggingface', 'hub', 'models--openai--clip-vit-large-patch14', 'snapshots', 'abc123');
    mkdirSync(snap, { recursive: true });
    writeFileSync(path.join(snap, 'merges.txt'), MERGES.join('\n'));
    const c = tokenCounter(null, { HOME: home });
    assert.equal(c.estimate, false);
    assert.equal(c.count('hello world'), 5);
    const missing = tokenCounter(path.join(home, 'nope'), { HOME: home });
    assert.equal(missing.estimate, false, 'the cache is still used');
    assert.match(missing.error ?? '', /nope/);
  });

  it('estimates one token per short word, more for long ones', () => {
    assert.equal(estimateClipTokens('1girl, blue hair'), 5);
    assert.equal(estimateClipTokens('thighhighs'), 2);
    assert.equal(estimateClipTokens(''), 0);
  });
});

describe('caption-too-long rule', () => {
  const tags = Array.from({ length: 40 }, (_, i) => `x${String.fromCharCode(97 + Math.floor(i / 26), 97 + (i % 26))}`);
  const text = tags.join(', ');

  it('reports a caption over max_token_length from the first tag that is cut off', () => {
    // estimate: each "xab" is 1 word token, each ", " one token: 40 + 39 = 79 > 75
    const r = lintCaption('f.txt', text, { trigger: null }, { maxTokenLength: 75, tokenCountEstimated: true });
    const d = r.diagnostics.filter((x) => x.code === 'caption-too-long');
    assert.equal(d.length, 1);
    assert.match(d[0]?.message ?? '', /about 79 CLIP tokens \(an estimate/);
    // tags 1..38 + 37 commas = 75 tokens fit; the 39th tag is the first cut
    assert.equal(text.slice(d[0]?.range.startOffset, d[0]?.range.endOffset), tags.slice(38).join(', '));
    assert.equal(lintCaption('f.txt', text, { trigger: null }, { maxTokenLength: 150 }).diagnostics.filter((x) => x.code === 'caption-too-long').length, 0);
    assert.equal(lintCaption('f.txt', text, { trigger: null }, {}).diagnostics.filter((x) => x.code === 'caption-too-long').length, 0, 'off without max_token_length');
  });

  it('uses the given counter, counts prefix/suffix, and obeys severity', () => {
    const counter = (s: string): number => s.length; // one token per character (white space never is a token in CLIP)
    // prefix 3 + 'abc' 3 + ',' 1 + 'def' 3 = 10
    const r = lintCaption('f.txt', 'abc, def', { trigger: null, options: { captionPrefix: 'xyz' } }, { maxTokenLength: 9, countTokens: counter });
    const d = r.diagnostics.find((x) => x.code === 'caption-too-long');
    assert.ok(d);
    assert.match(d.message, /is 10 CLIP tokens;/);
    assert.equal(r.diagnostics.length >= 1 && d.range.startOffset, 5, "the cut starts at 'def'");
    assert.equal(lintCaption('f.txt', 'abc, def', { trigger: null, options: { captionPrefix: 'xyz' } }, { maxTokenLength: 10, countTokens: counter }).diagnostics.length, 0);
    assert.doesNotMatch(d.message, /estimate/);
    const off = lintCaption('f.txt', text, { trigger: null }, { maxTokenLength: 75, severities: { 'caption-too-long': 'off' } });
    assert.equal(off.diagnostics.length, 0);
  });
});

describe('tag batch commands', () => {
  it('turns each command into operations per concept', () => {
    assert.deepEqual(opsFor('add', { tags: [' a ', ''], position: 'front' }, null), [{ op: 'add', tags: ['a'], position: 'front' }]);
    assert.equal(opsFor('add', { tags: [] }, null), null);
    assert.deepEqual(opsFor('addTrigger', {}, 'tk'), [{ op: 'add', tags: ['tk'], position: 'front' }, { op: 'moveToFront', tag: 'tk' }]);
    assert.equal(opsFor('addTrigger', {}, null), null);
    assert.deepEqual(opsFor('removeTrigger', {}, 'tk'), [{ op: 'remove', tags: ['tk'] }]);
    assert.deepEqual(opsFor('sort', { keep: 1.7 }, null), [{ op: 'sort', keep: 1 }]);
    assert.deepEqual(opsFor('replace', { from: 'a', to: ' b ' }, null), [{ op: 'replace', from: 'a', to: 'b' }]);
    assert.deepEqual(opsFor('moveToFront', { tags: ['x'] }, null), [{ op: 'moveToFront', tag: 'x' }]);
    assert.deepEqual(splitTagInput(' a, ,b ,c'), ['a', 'b', 'c']);
  });

  it('adds each concept its own trigger like the seed script (moved first, never twice)', () => {
    const p = previewGroups([
      { inputs: [{ file: 'a/1.txt', bytes: enc('1girl, tk, solo\n') }, { file: 'a/2.txt', bytes: enc('tk, solo\n') }], ops: opsFor('addTrigger', {}, 'tk') ?? [] },
      { inputs: [{ file: 'b/1.txt', bytes: enc('1boy\n') }], ops: opsFor('addTrigger', {}, 'zk') ?? [] },
    ]);
    assert.deepEqual(p.files.map((f) => [f.file, f.newText]), [['a/1.txt', 'tk, 1girl, solo\n'], ['b/1.txt', 'zk, 1boy\n']]);
    assert.equal(p.unchanged, 1);
    assert.equal(describePreview(p), '2 files will change (1 tag added, 1 moved); 1 unchanged');
  });

  it('creates tag files only for images without one', () => {
    const p = previewCreateMissing([{ file: 'a.txt', bytes: null }, { file: 'b.txt', bytes: enc('x') }, { file: 'c.txt', bytes: null, error: 'EACCES' }], ['tk', ' '])
    assert.deepEqual(p.files.map((f) => [f.file, dec(f.newBytes), f.oldBytes]), [['a.txt', 'tk\n', null]]);
    assert.equal(p.unchanged, 1);
    assert.equal(p.skipped.length, 1);
    assert.equal(describePreview(p), '1 file will change (1 tag added, 1 new file); 1 unchanged; 1 skipped');
    assert.equal(dec(previewCreateMissing([{ file: 'a.txt', bytes: null }], []).files[0]?.newBytes ?? new Uint8Array()), '\n');
  });
});

describe('tag statistics for the Tags view', () => {
  function index(): CaptionIndex {
    const idx = new CaptionIndex();
    idx.setConcept('A', { trigger: 'tk' }, '5_tk girl');
    idx.setConcept('B', { trigger: null }, '1_other');
    const a = ['tk, blue_hair, smile', 'tk, blue hair', 'blue_hair, smile', 'tk, solo'];
    a.forEach((t, i) => idx.updateFile(`A/${i}.txt`, 'A', enc(t)));
    idx.updateFile('B/0.txt', 'B', enc('blue_hair, zebra'));
    return idx;
  }

  it('counts each tag per concept with its co-occurrence with the trigger', () => {
    const rows = conceptTagRows(index(), 'A');
    const hair = rows.find((r) => r.key === 'blue hair');
    assert.deepEqual(hair, { key: 'blue hair', name: 'blue_hair', count: 3, withTrigger: 2, isTrigger: false });
    assert.equal(cooccurrenceText(hair!), '66% with trigger');
    const tk = rows.find((r) => r.key === 'tk');
    assert.equal(tk?.isTrigger, true);
    assert.equal(cooccurrenceText(tk!), '');
    assert.equal(rows[0]?.key, 'blue hair', 'most frequent first');
    assert.deepEqual(conceptTagRows(index(), 'B').map((r) => r.withTrigger), [null, null]);
  });

  it('merges every concept, filters and sorts', () => {
    const rows = allTagRows(index());
    assert.deepEqual(rows.map((r) => [r.key, r.count, r.withTrigger]), [
      ['blue hair', 4, 2],
      ['tk', 3, 3],
      ['smile', 2, 1],
      ['solo', 1, 1],
      ['zebra', 1, null],
    ]);
    assert.deepEqual(filterTagRows(rows, 'Blue_H').map((r) => r.key), ['blue hair']);
    assert.equal(filterTagRows(rows, '  ').length, 5);
    assert.deepEqual(sortTagRows(rows, 'name').map((r) => r.key), ['blue hair', 'smile', 'solo', 'tk', 'zebra']);
  });

  it('lists the files with a tag, in one concept or all', () => {
    assert.deepEqual(filesWithTag(index(), 'Blue Hair', 'A'), ['A/0.txt', 'A/1.txt', 'A/2.txt']);
    assert.deepEqual(filesWithTag(index(), '(blue_hair:1.2)'), ['A/0.txt', 'A/1.txt', 'A/2.txt', 'B/0.txt']);
    assert.deepEqual(filesWithTag(index(), 'nothing'), []);
  });
});

describe('max_token_length from a training config', () => {
  it('reads it from a training config and ignores other TOML files', async () => {
    const { maxTokenLengthOfConfig } = await import('../../src/core/captions/clipTokenizer');
    assert.equal(maxTokenLengthOfConfig('c.toml', 'pretrained_model_name_or_path = "x"\nmax_token_length = 225\nlearning_rate = 1e-4\n'), 225);
    assert.equal(maxTokenLengthOfConfig('c.toml', '[training_arguments]\nmax_token_length = 150\noutput_dir = "o"\n'), 150);
    assert.equal(maxTokenLengthOfConfig('c.toml', 'pretrained_model_name_or_path = "x"\nlearning_rate = 1e-4\n'), null);
    assert.equal(maxTokenLengthOfConfig('d.toml', '[general]\nmax_token_length = 225\n'), null, 'a dataset config');
    assert.equal(maxTokenLengthOfConfig('c.toml', 'max_token_length = "225"\nlearning_rate = 1\n'), null, 'a string is not read by sd-scripts as a number');
    const sample = path.join(SAMPLE, 'config', 'config_file.toml');
    assert.equal(maxTokenLengthOfConfig(sample, readFileSync(sample, 'utf8')), 225);
  });
});
