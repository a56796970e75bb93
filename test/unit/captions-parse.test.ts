import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  addTagEdits,
  applyEdits,
  findTags,
  findWildcards,
  minimalEdit,
  moveTagEdits,
  moveToFrontEdits,
  parseCaption,
  positionAt,
  removeTagEdits,
  removeTagsEdits,
  reorderTagsEdits,
  replaceTagEdits,
  serializeCaption,
  splitWeight,
  type CaptionOptions,
  type TextEdit,
} from '../../src/core/captions/parse';
import { feedCaption, fedCaptionOf, readCaptionText, resolveWildcards } from '../../src/core/captions/feed';
import { SAMPLE_TRAIN } from './helpers';

const tags = (s: string, o: CaptionOptions = {}, line = 0) => parseCaption(s, o).lines[line]?.tags.map((t) => t.text);
const edit = (s: string, f: (d: ReturnType<typeof parseCaption>) => TextEdit[], o: CaptionOptions = {}) => {
  const d = parseCaption(s, o);
  return serializeCaption({ text: applyEdits(d.text, f(d)), bom: d.bom });
};

describe('caption document: parse and serialise', () => {
  it('round-trips every text byte for byte', () => {
    const samples = [
      '',
      'tk',
      'tk, 1girl, solo\n',
      'tk,1girl,solo',
      'tk ,  1girl ,solo  \r\n',
      '\ufefftk, girl\r\nsecond line\r\n',
      'a\rb\rc',
      'tk ||| 1girl, solo ||| masterpiece\n',
      '{tk|sks} girl, {{literal}}, (red:1.2)\n\nline 3\n',
      ',,, ,\n',
      '  \n',
      '\n\n\n',
      'x\u3000, y\u00a0,z',
      'a\uD800b', // lone surrogate as decoded text can hold it
    ];
    for (const s of samples) {
      for (const o of [{}, { enableWildcard: true, keepTokensSeparator: '|||' }, { captionSeparator: ';' }] as CaptionOptions[]) {
        assert.equal(serializeCaption(parseCaption(s, o)), s, JSON.stringify(s));
      }
    }
  });
  it('round-trips the sample dataset', () => {
    const dir = path.join(SAMPLE_TRAIN, '5_tk girl');
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));
    assert.equal(files.length, 14);
    for (const f of files) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      const d = parseCaption(text);
      assert.equal(serializeCaption(d), text);
      assert.equal(d.lines[0]?.tags[0]?.text, 'tk');
      assert.equal(d.join, ', ');
      assert.equal(d.finalNewline, true);
    }
  });
  it('finds tags with exact offsets, trimmed like Python', () => {
    const d = parseCaption(' tk ,  blue_hair,(smile:1.2) ,\u3000x \n');
    assert.deepEqual(
      d.lines[0]?.tags.map((t) => [t.text, t.start, t.end, t.name, t.weight, t.key, t.looseKey]),
      [
        ['tk', 1, 3, 'tk', null, 'tk', 'tk'],
        ['blue_hair', 7, 16, 'blue_hair', null, 'blue_hair', 'blue hair'],
        ['(smile:1.2)', 17, 28, 'smile', 1.2, 'smile', 'smile'],
        ['x', 31, 32, 'x', null, 'x', 'x'],
      ],
    );
    for (const t of d.lines[0]?.tags ?? []) assert.equal(d.text.slice(t.start, t.end), t.text);
  });
  it('records the BOM, EOL style, final newline and the join style', () => {
    const d = parseCaption('\ufefftk,girl,solo\r\nb\r\n');
    assert.equal(d.bom, true);
    assert.equal(d.text.startsWith('tk'), true);
    assert.equal(d.lines[0]?.tags[0]?.start, 0);
    assert.equal(d.eol, '\r\n');
    assert.equal(d.finalNewline, true);
    assert.equal(d.join, ',');
    assert.equal(parseCaption('a, b').join, ', ');
    assert.equal(parseCaption('a').join, ', ');
    assert.equal(parseCaption('a;b', { captionSeparator: ';' }).join, ';');
    assert.equal(parseCaption('a').finalNewline, false);
    assert.equal(parseCaption('a\rb').eol, '\r');
  });
  it('uses caption_separator', () => {
    assert.deepEqual(tags('a, b; c', { captionSeparator: ';' }), ['a, b', 'c']);
    assert.deepEqual(tags('a::b:: c', { captionSeparator: '::' }), ['a', 'b', 'c']);
  });
  it('splits on the keep-tokens separator into fixed, flex and fixed-suffix parts', () => {
    const d = parseCaption('tk, girl ||| smile, solo ||| best quality ||| x', { keepTokensSeparator: '|||' });
    assert.deepEqual(
      d.lines[0]?.tags.map((t) => [t.text, t.part]),
      [['tk', 0], ['girl', 0], ['smile', 1], ['solo', 1], ['best quality ||| x', 2]],
    );
    // without the option, ||| is text
    assert.deepEqual(tags('tk ||| girl'), ['tk ||| girl']);
  });
  it('keeps separators inside wildcards, and finds wildcard groups like sd-scripts', () => {
    assert.deepEqual(tags('{a, b|c}, d', { enableWildcard: true }), ['{a, b|c}', 'd']);
    assert.deepEqual(tags('{a, b|c}, d'), ['{a', 'b|c}', 'd']);
    assert.deepEqual(findWildcards('x {a|b} {{lit}} {c}'), [
      { start: 2, end: 7, options: ['a', 'b'] },
      { start: 16, end: 19, options: ['c'] },
    ]);
    const t = parseCaption('{red|blue} hair', { enableWildcard: true }).lines[0]?.tags[0];
    assert.deepEqual(t?.wildcards, [{ start: 0, end: 10, options: ['red', 'blue'] }]);
  });
  it('says which lines sd-scripts uses', () => {
    assert.deepEqual(parseCaption('a\n\nb\n  \nc').captionLines, [0]);
    assert.deepEqual(parseCaption('a\n\nb\n  \nc', { enableWildcard: true }).captionLines, [0, 2, 4]);
  });
  it('reads weights only in the (tag:number) form', () => {
    assert.deepEqual(splitWeight('(tk:1.3)'), { name: 'tk', weight: 1.3 });
    assert.deepEqual(splitWeight('( a b :.5)'), { name: 'a b', weight: 0.5 });
    assert.deepEqual(splitWeight('(tk)'), { name: '(tk)', weight: null });
    assert.deepEqual(splitWeight('(:1)'), { name: '(:1)', weight: null });
    assert.deepEqual(splitWeight('face (mask)'), { name: 'face (mask)', weight: null });
  });
  it('maps offsets to line and character', () => {
    const d = parseCaption('ab\r\ncd\nef');
    assert.deepEqual(positionAt(d, 0), { line: 0, character: 0 });
    assert.deepEqual(positionAt(d, 4), { line: 1, character: 0 });
    assert.deepEqual(positionAt(d, 8), { line: 2, character: 1 });
  });
  it('finds tags loosely', () => {
    const d = parseCaption('tk, Blue_Hair, (blue hair:1.1)');
    assert.deepEqual(findTags(d, 'blue hair', { loose: true }).map((t) => t.index), [1, 2]);
    assert.deepEqual(findTags(d, 'BLUE_HAIR').map((t) => t.index), [1]);
  });
  it('never throws on odd input', () => {
    for (const s of ['\u0000', '\ufeff', '\ufeff\n', '(((', '{{{|}}}', '|||||||', ',', 'x'.repeat(1_000_000)]) {
      const d = parseCaption(s, { enableWildcard: true, keepTokensSeparator: '|||' });
      assert.equal(serializeCaption(d), s);
    }
  });
});

describe('caption document: edits', () => {
  it('adds at the front, the end and a position in the file style', () => {
    assert.equal(edit('1girl, solo\n', (d) => addTagEdits(d, 'tk', 'front')), 'tk, 1girl, solo\n');
    assert.equal(edit('1girl,solo', (d) => addTagEdits(d, 'tk', 'front')), 'tk,1girl,solo');
    assert.equal(edit('1girl, solo\n', (d) => addTagEdits(d, 'smile', 'end')), '1girl, solo, smile\n');
    assert.equal(edit('a, b, c', (d) => addTagEdits(d, 'x', 1)), 'a, x, b, c');
    assert.equal(edit('a, b, c', (d) => addTagEdits(d, 'x', 99)), 'a, b, c, x');
    assert.equal(edit('', (d) => addTagEdits(d, 'tk', 'front')), 'tk');
    assert.equal(edit('\n', (d) => addTagEdits(d, 'tk', 'front')), 'tk\n');
    assert.equal(edit('\ufeffa\r\nrest\r\n', (d) => addTagEdits(d, 'tk', 'front')), '\ufefftk, a\r\nrest\r\n');
    assert.equal(edit('a;b', (d) => addTagEdits(d, 'x', 'end'), { captionSeparator: ';' }), 'a;b;x');
    assert.equal(edit('a, b\nc, d', (d) => addTagEdits(d, 'x', 'front', 1)), 'a, b\nx, c, d');
  });
  it('adds at a position right after ||| into the earlier part', () => {
    const o = { keepTokensSeparator: '|||' };
    assert.equal(edit('tk ||| a, b', (d) => addTagEdits(d, 'x', 1), o), 'tk, x ||| a, b');
    assert.equal(edit('tk ||| a, b', (d) => addTagEdits(d, 'x', 2), o), 'tk ||| a, x, b');
  });
  it('removes a tag with one separator', () => {
    assert.equal(edit('a, b, c\n', (d) => removeTagEdits(d, 0)), 'b, c\n');
    assert.equal(edit('a, b, c\n', (d) => removeTagEdits(d, 1)), 'a, c\n');
    assert.equal(edit('a, b, c\n', (d) => removeTagEdits(d, 2)), 'a, b\n');
    assert.equal(edit('a\n', (d) => removeTagEdits(d, 0)), '\n');
    assert.equal(edit('a, b', (d) => removeTagEdits(d, 5)), 'a, b');
    assert.equal(edit('tk ||| a, b', (d) => removeTagEdits(d, 1), { keepTokensSeparator: '|||' }), 'tk ||| b');
    assert.equal(edit('tk ||| a', (d) => removeTagEdits(d, 1), { keepTokensSeparator: '|||' }), 'tk ||| ');
    assert.equal(edit('a, b, c, d', (d) => removeTagsEdits(d, [1, 3, 3])), 'a, c');
  });
  it('replaces one tag in place', () => {
    assert.equal(edit('a, b, c', (d) => replaceTagEdits(d, 1, 'blue hair')), 'a, blue hair, c');
    assert.equal(edit('a, b, c', (d) => replaceTagEdits(d, 1, '')), 'a, c');
    assert.deepEqual(replaceTagEdits(parseCaption('a, b'), 1, 'b'), []);
  });
  it('moves and reorders tags, keeping separators where they are', () => {
    assert.equal(edit('a, b,c, tk\n', (d) => moveToFrontEdits(d, 3)), 'tk, a,b, c\n');
    assert.equal(edit('a, b, c', (d) => moveTagEdits(d, 0, 2)), 'b, c, a');
    assert.equal(edit('a, b, c', (d) => reorderTagsEdits(d, [2, 1, 0])), 'c, b, a');
    assert.deepEqual(reorderTagsEdits(parseCaption('a, b'), [0, 0]), []);
    assert.deepEqual(moveTagEdits(parseCaption('a, b'), 0, 9), []);
    // only the tags that move are touched
    assert.deepEqual(moveToFrontEdits(parseCaption('a, tk, c'), 1), [
      { start: 0, end: 1, newText: 'tk' },
      { start: 3, end: 5, newText: 'a' },
    ]);
  });
  it('computes minimal edits', () => {
    assert.deepEqual(minimalEdit('a, b, c', 'a, x, c'), { start: 3, end: 4, newText: 'x' });
    assert.equal(minimalEdit('same', 'same'), null);
    assert.deepEqual(minimalEdit('aa', 'aaa', 10), { start: 12, end: 12, newText: 'a' });
  });
  it('applies edits in any order and drops overlapping ones', () => {
    assert.equal(applyEdits('abc', [{ start: 2, end: 3, newText: 'Z' }, { start: 0, end: 1, newText: 'X' }]), 'XbZ');
    assert.equal(applyEdits('abc', [{ start: 0, end: 2, newText: 'X' }, { start: 1, end: 3, newText: 'Y' }]), 'Xc');
    assert.equal(applyEdits('abc', [{ start: 5, end: 9, newText: 'X' }]), 'abc');
  });
});

describe('what sd-scripts feeds the model', () => {
  it('reads the first line stripped, or every non-blank line with wildcards', () => {
    assert.equal(readCaptionText('  a, b \r\nc\n', false), 'a, b');
    assert.equal(readCaptionText('a\n\n  c  \n', true), 'a\nc');
    assert.equal(readCaptionText('', false), null);
    assert.equal(readCaptionText('\ufeffa', false), '\ufeffa');
  });
  it('joins prefix and suffix with a space, before anything else', () => {
    assert.equal(feedCaption('girl', { captionPrefix: 'tk', captionSuffix: 'x' }).caption, 'tk girl x');
    // with several wildcard lines the prefix lands on the first line only, the suffix on the last
    const o = { captionPrefix: 'P', captionSuffix: 'S', enableWildcard: true };
    assert.equal(feedCaption('a\nb', o, { line: () => 0 }).caption, 'P a');
    assert.equal(feedCaption('a\nb', o, { line: () => 1 }).caption, 'b S');
  });
  it('uses only the first line without wildcards', () => {
    assert.equal(feedCaption('a\nb').caption, 'a');
  });
  it('resolves wildcards with literal braces', () => {
    assert.equal(resolveWildcards('{a|b} {{x}} {c}'), 'a {x} c');
    assert.equal(resolveWildcards('{a|b}', () => 1), 'b');
    assert.equal(resolveWildcards('{a|b}', () => 7), 'a');
    assert.equal(resolveWildcards('\u2985{a|b}', () => 1), '\u2985b');
    assert.equal(feedCaption('{a|b}, c').caption, '{a|b}, c');
    assert.equal(feedCaption('{a|b}, c', { enableWildcard: true }, { option: () => 1 }).caption, 'b, c');
  });
  it('processes tokens only with shuffle, warm-up or tag dropout, joining with ", "', () => {
    assert.deepEqual(feedCaption('a,b ,, c', {}), { caption: 'a,b ,, c', tokenProcessing: false, fixed: [], flex: [], fixedSuffix: [] });
    // empty pieces are kept without a keep-tokens separator
    assert.deepEqual(feedCaption('a,b ,, c', { shuffleCaption: true, keepTokens: 1 }), {
      caption: 'a, b, , c',
      tokenProcessing: true,
      fixed: ['a'],
      flex: ['b', '', 'c'],
      fixedSuffix: [],
    });
    assert.equal(feedCaption('a;b', { captionSeparator: ';', captionTagDropoutRate: 0.1 }).caption, 'a, b');
    assert.equal(feedCaption('a,b', { tokenWarmupStep: 0 }).tokenProcessing, false);
  });
  it('splits fixed / flex / fixed-suffix on the keep-tokens separator, dropping empty pieces', () => {
    const r = feedCaption('tk,, girl ||| a, b,, ||| best ||| more', { shuffleCaption: true, keepTokensSeparator: '|||', keepTokens: 5 });
    assert.deepEqual([r.fixed, r.flex, r.fixedSuffix], [['tk', 'girl'], ['a', 'b'], ['best ||| more']]);
    const shuffled = feedCaption('tk ||| a, b, c', { shuffleCaption: true, keepTokensSeparator: '|||' }, { shuffle: (t) => t.reverse() });
    assert.equal(shuffled.caption, 'tk, c, b, a');
    // without token processing the separator stays in the text
    assert.equal(feedCaption('tk ||| a', { keepTokensSeparator: '|||' }).caption, 'tk ||| a');
  });
  it('replaces the secondary separator last', () => {
    assert.equal(feedCaption('a;;b, c', { secondarySeparator: ';;', shuffleCaption: true }).caption, 'a,b, c');
    assert.equal(fedCaptionOf('', {}), null);
    assert.equal(fedCaptionOf('\ufefftk, a\nb', {})?.caption, '\ufefftk, a');
  });
});
