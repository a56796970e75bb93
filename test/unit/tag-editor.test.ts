import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { applyEdits, type CaptionOptions } from '../../src/core/captions/parse';
import { lintCaption } from '../../src/core/captions/rules';
import { isWebviewToHost } from '../../src/core/protocol';
import {
  buildChipModel,
  editBlockReason,
  isTagEditOp,
  mapOffsetThroughChange,
  neighbours,
  rawTextEdit,
  tagEditorEdits,
  typedTags,
  TAG_EDITOR_MAX_BYTES,
  type TagEditOp,
} from '../../src/core/captions/tagEditor';

/** Applies an operation and returns the new text (what the document will hold). */
function run(text: string, op: TagEditOp, options: CaptionOptions = {}): string {
  return applyEdits(text, tagEditorEdits(text, op, options).edits);
}

describe('tag editor: operations as minimal text edits', () => {
  it('adds at the end in the file’s separator style, keeping EOL and final newline', () => {
    assert.equal(run('tk, 1girl, solo\n', { op: 'add', tag: 'smile' }), 'tk, 1girl, solo, smile\n');
    assert.equal(run('tk,1girl,solo\r\n', { op: 'add', tag: 'smile' }), 'tk,1girl,solo,smile\r\n');
    assert.equal(run('tk, 1girl', { op: 'add', tag: 'smile' }), 'tk, 1girl, smile');
    // one insertion, nothing else touched
    const r = tagEditorEdits('tk, 1girl\nsecond line\n', { op: 'add', tag: 'smile' });
    assert.deepEqual(r.edits, [{ start: 9, end: 9, newText: ', smile' }]);
  });

  it('adds at the front or before a given chip', () => {
    assert.equal(run('1girl, solo\n', { op: 'add', tag: 'tk', position: 'front' }), 'tk, 1girl, solo\n');
    assert.equal(run('a, c\n', { op: 'add', tag: 'b', position: 1 }), 'a, b, c\n');
  });

  it('adds to an empty file and to a blank line', () => {
    assert.equal(run('', { op: 'add', tag: 'tk' }), 'tk');
    assert.equal(run('\n', { op: 'add', tag: 'tk' }), 'tk\n');
  });

  it('splits typed text into tags and leaves out those already there (case and _/space ignored)', () => {
    assert.equal(run('tk, blue_hair\n', { op: 'add', tag: 'smile, Blue Hair, smile ,  open mouth' }), 'tk, blue_hair, smile, open mouth\n');
    const none = tagEditorEdits('tk, blue_hair\n', { op: 'add', tag: 'blue hair' });
    assert.deepEqual(none.edits, []);
    assert.match(none.note ?? '', /Already there: blue hair/);
    assert.deepEqual(tagEditorEdits('tk\n', { op: 'add', tag: ' , ' }).edits, []);
  });

  it('removes a chip with one adjoining separator', () => {
    assert.equal(run('tk, 1girl, solo\n', { op: 'remove', index: 1 }), 'tk, solo\n');
    assert.equal(run('tk, 1girl, solo\n', { op: 'remove', index: 2 }), 'tk, 1girl\n');
    assert.equal(run('tk, 1girl, solo\n', { op: 'remove', index: 0 }), '1girl, solo\n');
    assert.equal(run('tk\n', { op: 'remove', index: 0 }), '\n');
    assert.deepEqual(tagEditorEdits('tk\n', { op: 'remove', index: 5 }).edits, []);
  });

  it('moves a chip, leaving separators in place', () => {
    assert.equal(run('a, b,c, d\n', { op: 'move', from: 0, to: 2 }), 'b, c,a, d\n');
    assert.equal(run('a, b, c, d\n', { op: 'move', from: 3, to: 0 }), 'd, a, b, c\n');
    // a target past the end means the last place
    assert.equal(run('a, b, c\n', { op: 'move', from: 0, to: 9 }), 'b, c, a\n');
    assert.deepEqual(tagEditorEdits('a, b\n', { op: 'move', from: 1, to: 1 }).edits, []);
    // only the tags that change place are rewritten
    const r = tagEditorEdits('a, b, c, d\n', { op: 'move', from: 1, to: 2 });
    assert.deepEqual(r.edits, [
      { start: 3, end: 4, newText: 'c' },
      { start: 6, end: 7, newText: 'b' },
    ]);
  });

  it('replaces a chip; an empty replacement removes it; several typed tags follow each other', () => {
    assert.equal(run('tk, blue_hair\n', { op: 'replace', index: 1, text: 'blue hair' }), 'tk, blue hair\n');
    assert.equal(run('tk, blue_hair\n', { op: 'replace', index: 1, text: '  ' }), 'tk\n');
    assert.equal(run('tk, x\n', { op: 'replace', index: 1, text: 'a,b' }), 'tk, a, b\n');
  });

  it('keeps other lines untouched', () => {
    const text = 'tk, a\nextra, line\n';
    assert.equal(run(text, { op: 'remove', index: 1 }), 'tk\nextra, line\n');
  });

  it('validates operations coming from a webview', () => {
    assert.equal(isTagEditOp({ op: 'add', tag: 'x' }), true);
    assert.equal(isTagEditOp({ op: 'add', tag: 'x', position: 2 }), true);
    assert.equal(isTagEditOp({ op: 'add', tag: 3 }), false);
    assert.equal(isTagEditOp({ op: 'remove', index: -1 }), false);
    assert.equal(isTagEditOp({ op: 'remove', index: 1.5 }), false);
    assert.equal(isTagEditOp({ op: 'move', from: 0, to: 1 }), true);
    assert.equal(isTagEditOp({ op: 'move', from: 0 }), false);
    assert.equal(isTagEditOp({ op: 'replace', index: 0, text: 'a' }), true);
    assert.equal(isTagEditOp({ op: 'replace', index: 0, text: 'a', keepWeight: true }), true);
    assert.equal(isTagEditOp({ op: 'replace', index: 0, text: 'a', keepWeight: 'yes' }), false);
    assert.equal(isTagEditOp({ op: 'drop' }), false);
    assert.equal(isTagEditOp(null), false);
  });

  it('splits typed input on the separator and on commas', () => {
    assert.deepEqual(typedTags(' a , b,,c\n'), ['a', 'b', 'c']);
    assert.deepEqual(typedTags('a; b, c', { captionSeparator: ';' }), ['a', 'b', 'c']);
  });
});

describe('tag editor: chip model', () => {
  it('marks the trigger word (loosely) and maps diagnostics to chips', () => {
    const text = 'tk, 1girl, blue_hair, blue_hair\n';
    const lint = lintCaption('/x/1.txt', text, { trigger: 'tk', absorbed: ['blue hair'] });
    const m = buildChipModel(text, { trigger: 'tk', diagnostics: lint.diagnostics });
    assert.deepEqual(m.chips.map((c) => c.text), ['tk', '1girl', 'blue_hair', 'blue_hair']);
    assert.deepEqual(m.chips.map((c) => c.trigger), [true, false, false, false]);
    assert.equal(m.keepBoundary, null);
    assert.deepEqual(m.chips.map((c) => c.kept), [null, null, null, null]);
    const codes = m.chips.map((c) => c.problems.map((p) => p.code).sort());
    assert.deepEqual(codes[0], []);
    assert.deepEqual(codes[1], []);
    assert.ok(codes[2]?.includes('absorbed-tag'), JSON.stringify(codes));
    assert.ok(codes[3]?.includes('duplicate-tag'), JSON.stringify(codes));
    // every diagnostic is listed, with the chip it points at and its fixes
    const dup = m.problems.find((p) => p.code === 'duplicate-tag');
    assert.equal(dup?.chip, 3);
    assert.ok((dup?.fixes.length ?? 0) > 0);
  });

  it('lists file-level problems without a chip', () => {
    const text = '1girl, solo\n';
    const lint = lintCaption('/x/1.txt', text, { trigger: 'tk' });
    const m = buildChipModel(text, { trigger: 'tk', diagnostics: lint.diagnostics });
    const missing = m.problems.find((p) => p.code === 'trigger-missing');
    assert.ok(missing);
    assert.deepEqual(missing.fixes, ["Add 'tk' at the front"]);
    assert.equal(m.chips.some((c) => c.trigger), false);
  });

  it('shows the keep_tokens boundary when shuffle_caption is on', () => {
    const m = buildChipModel('tk, 1girl, solo, smile\n', { options: { shuffleCaption: true, keepTokens: 2 } });
    assert.equal(m.keepBoundary, 2);
    assert.deepEqual(m.chips.map((c) => c.kept), [true, true, false, false]);
    const none = buildChipModel('tk, solo\n', { options: { shuffleCaption: true } });
    assert.equal(none.keepBoundary, 0);
    const sep = buildChipModel('tk, girl ||| a, b\n', { options: { shuffleCaption: true, keepTokensSeparator: '|||' } });
    assert.equal(sep.keepBoundary, 2);
  });

  it('counts extra lines sd-scripts ignores', () => {
    assert.equal(buildChipModel('a\nb\n\n').extraLines, 1);
    assert.equal(buildChipModel('').chips.length, 0);
  });
});

describe('tag editor: files it refuses to edit', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  it('accepts plain UTF-8', () => {
    assert.equal(editBlockReason(bytes('tk, 1girl\n')), null);
    assert.equal(editBlockReason(bytes('')), null);
    assert.equal(editBlockReason(bytes('tk, 少女\n')), null);
  });
  it('refuses non-UTF-8, NUL bytes, a BOM and huge files, saying why', () => {
    assert.equal(editBlockReason(Uint8Array.from([0x74, 0x6b, 0xe9, 0x0a]))?.code, 'notUtf8');
    assert.equal(editBlockReason(Uint8Array.from([0xff, 0xfe, 0x74, 0x00]))?.code, 'nul');
    assert.equal(editBlockReason(Uint8Array.from([0xef, 0xbb, 0xbf, 0x74, 0x6b]))?.code, 'bom');
    const huge = editBlockReason(new Uint8Array(TAG_EDITOR_MAX_BYTES + 1).fill(0x61));
    assert.equal(huge?.code, 'tooLarge');
    assert.match(huge?.message ?? '', /too big/);
  });
});

describe('tag editor: neighbours', () => {
  it('gives the previous and next entries', () => {
    assert.deepEqual(neighbours(['a', 'b', 'c'], 'b'), { index: 1, prev: 'a', next: 'c' });
    assert.deepEqual(neighbours(['a', 'b'], 'a'), { index: 0, prev: null, next: 'b' });
    assert.deepEqual(neighbours(['a'], 'z'), { index: -1, prev: null, next: null });
  });
});

describe('tag editor: presence of a suggested tag', () => {
  it('compares like booru tags', async () => {
    const { findTagsLoose } = await import('../../src/core/captions/tagEditor');
    assert.equal(findTagsLoose('tk, blue_hair\n', 'Blue hair'), true);
    assert.equal(findTagsLoose('tk, blue_hair\n', 'blue'), false);
    assert.equal(findTagsLoose('tk\nblue_hair\n', 'blue_hair'), false);
  });
});

describe('tag editor: a chip edited in place', () => {
  it('keeps the weight wrapper around the new name, and only the chip changes', () => {
    assert.equal(run('tk, (blue_hair:1.2), smile\n', { op: 'replace', index: 1, text: 'red_hair', keepWeight: true }), 'tk, (red_hair:1.2), smile\n');
    // the wrapper as written (spaces, digits) is kept
    assert.equal(run('tk,( blue hair :1.20 ),x\r\n', { op: 'replace', index: 1, text: 'red hair', keepWeight: true }), 'tk,( red hair :1.20 ),x\r\n');
    const r = tagEditorEdits('tk, (blue_hair:1.2), smile\n', { op: 'replace', index: 1, text: 'red_hair', keepWeight: true });
    assert.deepEqual(r.edits, [{ start: 4, end: 19, newText: '(red_hair:1.2)' }]);
  });

  it('uses a weight the user typed, and ignores keepWeight for an unweighted chip', () => {
    assert.equal(run('tk, (blue_hair:1.2)\n', { op: 'replace', index: 1, text: '(red_hair:0.8)', keepWeight: true }), 'tk, (red_hair:0.8)\n');
    assert.equal(run('tk, blue_hair\n', { op: 'replace', index: 1, text: 'red_hair', keepWeight: true }), 'tk, red_hair\n');
    // without keepWeight the typed text replaces the whole chip
    assert.equal(run('tk, (blue_hair:1.2)\n', { op: 'replace', index: 1, text: 'red_hair' }), 'tk, red_hair\n');
  });

  it('removes the tag when the text is emptied; extra typed tags follow the weighted one', () => {
    assert.equal(run('tk, (blue_hair:1.2), smile\n', { op: 'replace', index: 1, text: '', keepWeight: true }), 'tk, smile\n');
    assert.equal(run('tk, (blue_hair:1.2)\n', { op: 'replace', index: 1, text: 'red_hair, hat', keepWeight: true }), 'tk, (red_hair:1.2), hat\n');
  });
});

describe('tag editor: the raw-text box', () => {
  it('turns the typed text into one minimal replace', () => {
    assert.deepEqual(rawTextEdit('tk, 1girl\n', 'tk, 1girl, smile\n'), { start: 9, end: 9, newText: ', smile' });
    assert.deepEqual(rawTextEdit('tk, 1girl, solo\n', 'tk, solo\n'), { start: 4, end: 11, newText: '' });
    assert.equal(rawTextEdit('tk\n', 'tk\n'), null);
  });

  it('keeps CRLF and CR files as they are (a textarea only knows \\n)', () => {
    const crlf = 'tk, 1girl\r\nsecond\r\n';
    const e = rawTextEdit(crlf, 'tk, 1girl, smile\nsecond\n');
    assert.ok(e);
    assert.equal(applyEdits(crlf, [e]), 'tk, 1girl, smile\r\nsecond\r\n');
    assert.deepEqual(e, { start: 9, end: 9, newText: ', smile' });
    assert.equal(rawTextEdit(crlf, 'tk, 1girl\nsecond\n'), null, 'the same text with \\n is no change');
    const cr = 'a\rb';
    assert.equal(applyEdits(cr, [rawTextEdit(cr, 'a\nb\nc')!]), 'a\rb\rc');
    // a file without a line break takes what was typed
    assert.equal(applyEdits('a', [rawTextEdit('a', 'a\nb')!]), 'a\nb');
  });

  it('never cuts a surrogate pair', () => {
    const e = rawTextEdit('tk, 😀\n', 'tk, 😁\n');
    assert.ok(e);
    assert.deepEqual(e, { start: 4, end: 6, newText: '😁' });
    const f = rawTextEdit('😀x', '😀y');
    assert.deepEqual(f, { start: 2, end: 3, newText: 'y' });
  });

  it('maps the caret through an outside change', () => {
    // undo removed ", smile" after the caret: the caret stays
    assert.equal(mapOffsetThroughChange('tk, 1girl, smile', 'tk, 1girl', 3), 3);
    // a tag added at the front: a caret after it moves along
    assert.equal(mapOffsetThroughChange('1girl, solo', 'tk, 1girl, solo', 8), 12);
    // a caret inside the replaced span goes to the end of the new text there
    // ('blue' → 'red': the span is those letters; the caret lands after 'red')
    assert.equal(mapOffsetThroughChange('tk, blue_hair, x', 'tk, red_hair, x', 6), 7);
    assert.equal(mapOffsetThroughChange('same', 'same', 2), 2);
    assert.equal(mapOffsetThroughChange('abc', '', 3), 0);
  });
});

describe('tag editor: the raw-text message', () => {
  it('is checked like every webview message', () => {
    assert.equal(isWebviewToHost({ type: 'tagEditor/setText', version: 3, text: 'tk, 1girl\n', seq: 1 }), true);
    assert.equal(isWebviewToHost({ type: 'tagEditor/setText', version: 3, text: 'tk' }), false, 'no seq');
    assert.equal(isWebviewToHost({ type: 'tagEditor/setText', version: 3, text: 5, seq: 1 }), false);
    assert.equal(isWebviewToHost({ type: 'tagEditor/setText', version: -1, text: '', seq: 1 }), false);
  });
});
