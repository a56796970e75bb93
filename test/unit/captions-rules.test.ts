import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CaptionIndex, lintCaption, RULES, type CaptionDiagnostic, type ConceptContext, type RuleConfig } from '../../src/core/captions/rules';
import { applyEdits, parseCaption } from '../../src/core/captions/parse';
import { resolveTrigger, triggerFromClassTokens } from '../../src/core/captions/triggers';
import { SAMPLE_TRAIN } from './helpers';

const enc = (s: string) => new TextEncoder().encode(s);
const lint = (s: string | Uint8Array, ctx: ConceptContext = { trigger: 'tk' }, config: RuleConfig = {}) =>
  lintCaption('a.txt', typeof s === 'string' ? enc(s) : s, ctx, config).diagnostics;
const brief = (ds: CaptionDiagnostic[]) => ds.map((d) => [d.code, d.severity, d.range.startOffset, d.range.endOffset]);
/** the text after applying the first fix of the first diagnostic with `code` */
const fixed = (s: string, code: string, ctx: ConceptContext = { trigger: 'tk' }, fixIndex = 0) => {
  const d = lint(s, ctx).find((x) => x.code === code);
  const f = d?.fixes[fixIndex];
  assert.ok(f, `no fix for ${code}`);
  const doc = parseCaption(s, ctx.options ?? {});
  return (doc.bom && !f.removeBom ? '\ufeff' : '') + applyEdits(doc.text, f.edits);
};

describe('trigger words', () => {
  it('takes the first class token by default', () => {
    assert.equal(triggerFromClassTokens('tk girl'), 'tk');
    assert.equal(triggerFromClassTokens('tk girl', 'whole'), 'tk girl');
    assert.equal(triggerFromClassTokens('tk, 1girl'), 'tk');
    assert.equal(triggerFromClassTokens('  '), null);
  });
  it('resolves with per-folder > dataset config > setting > folder name', () => {
    assert.deepEqual(resolveTrigger({ folderName: '5_tk girl' }), { trigger: 'tk', source: 'folderName', classTokens: 'tk girl' });
    assert.deepEqual(resolveTrigger({ folderName: '5_tk girl', setting: 'ohwx' }), { trigger: 'ohwx', source: 'setting' });
    assert.deepEqual(resolveTrigger({ folderName: '5_tk girl', setting: 'ohwx', datasetConfigClassTokens: 'sks dog' }), {
      trigger: 'sks',
      source: 'datasetConfig',
      classTokens: 'sks dog',
    });
    assert.deepEqual(resolveTrigger({ folderName: '5_tk girl', perFolder: ' my trigger ', datasetConfigClassTokens: 'sks' }), {
      trigger: 'my trigger',
      source: 'perFolder',
    });
    assert.deepEqual(resolveTrigger({ folderName: '1_girl', isReg: true }), { trigger: null, source: 'none' });
    assert.deepEqual(resolveTrigger({ folderName: 'images' }), { trigger: null, source: 'none' });
    assert.deepEqual(resolveTrigger({ folderName: '5' }), { trigger: null, source: 'none' });
    assert.deepEqual(resolveTrigger({ folderName: '5_', setting: '  ' }), { trigger: null, source: 'none' });
  });
});

describe('caption rules', () => {
  it('has stable codes', () => {
    assert.deepEqual(Object.keys(RULES).sort(), [
      'absorbed-tag', 'blank-caption', 'bom', 'caption-too-long', 'duplicate-tag', 'empty-file', 'keep-separator-literal', 'mixed-underscore-style', 'multi-line',
      'not-utf8', 'pollution-candidate', 'trigger-missing', 'trigger-not-first', 'trigger-not-kept', 'unreadable',
    ]);
  });
  it('finds nothing on the sample dataset', () => {
    const dir = path.join(SAMPLE_TRAIN, '5_tk girl');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.txt'))) {
      assert.deepEqual(lintCaption(f, readFileSync(path.join(dir, f)), { trigger: 'tk' }).diagnostics, [], f);
    }
  });
  it('empty file: an error that stops training, fixed by adding the trigger', () => {
    const d = lint('');
    assert.deepEqual(brief(d), [['empty-file', 'error', 0, 0]]);
    assert.match(d[0]?.message ?? '', /stops training/);
    assert.equal(fixed('', 'empty-file'), 'tk');
  });
  it('not UTF-8: an error, nothing else checked', () => {
    const d = lint(new Uint8Array([0x74, 0x6b, 0x2c, 0x20, 0xe9]));
    assert.deepEqual(brief(d), [['not-utf8', 'error', 0, 0]]);
    assert.match(d[0]?.message ?? '', /illegal char in file/);
    // UTF-16 with its BOM is not UTF-8 either
    assert.deepEqual(brief(lint(new Uint8Array([0xff, 0xfe, 0x74, 0x00]))), [['not-utf8', 'error', 0, 0]]);
  });
  it('BOM: glued to the first tag, which is the trigger', () => {
    const d = lint('\ufefftk, girl');
    assert.deepEqual(brief(d), [['bom', 'warning', 0, 2]]);
    assert.match(d[0]?.message ?? '', /glued to the first tag 'tk' \(the trigger word\)/);
    assert.deepEqual(d[0]?.fixes, [{ title: 'Remove the byte-order mark', edits: [], removeBom: true }]);
  });
  it('blank first line: trains with an empty caption', () => {
    assert.deepEqual(brief(lint('\ntk, girl')), [['blank-caption', 'warning', 0, 0], ['multi-line', 'warning', 1, 9]]);
    assert.deepEqual(brief(lint('\n\n', { trigger: null, options: { enableWildcard: true } })), [['blank-caption', 'warning', 0, 2]]);
  });
  it('several lines without enable_wildcard: only the first is used', () => {
    const s = 'tk, girl\r\nsmile, solo\r\n\r\nblue\r\n';
    const d = lint(s);
    assert.deepEqual(brief(d), [['multi-line', 'warning', 10, 29]]);
    assert.equal(d[0]?.message, 'these 2 lines are ignored: without enable_wildcard sd-scripts uses only the first line.');
    assert.equal(fixed(s, 'multi-line', undefined, 0), 'tk, girl, smile, solo, blue\r\n');
    assert.equal(fixed(s, 'multi-line', undefined, 1), 'tk, girl\r\n');
    assert.deepEqual(lint(s, { trigger: 'tk', options: { enableWildcard: true } }).map((x) => x.code), ['trigger-missing', 'trigger-missing']);
    assert.deepEqual(lint('tk\n\n  \n'), []);
  });
  it('trigger missing, with a fix that adds it at the front', () => {
    const d = lint('1girl, solo\n');
    assert.deepEqual(brief(d), [['trigger-missing', 'warning', 0, 11]]);
    assert.equal(d[0]?.range.start.line, 0);
    assert.equal(d[0]?.range.end.character, 11);
    assert.equal(fixed('1girl, solo\n', 'trigger-missing'), 'tk, 1girl, solo\n');
    // case and the underscore style do not matter, a weight neither; a prefix counts
    assert.deepEqual(lint('TK, girl'), []);
    assert.deepEqual(lint('my_trigger, girl', { trigger: 'my trigger' }), []);
    assert.deepEqual(lint('(tk:1.2), girl'), []);
    assert.deepEqual(lint('girl', { trigger: 'tk', options: { captionPrefix: 'tk,' } }), []);
    assert.deepEqual(lint('girl', { trigger: null }), []);
  });
  it('trigger not first (shuffle off): info with a move-to-front fix', () => {
    const d = lint('girl, solo, tk');
    assert.deepEqual(brief(d), [['trigger-not-first', 'info', 12, 14]]);
    assert.equal(d[0]?.message, "the trigger word 'tk' is tag 3: tags earlier in a caption weigh more, so the trigger usually goes first.");
    assert.equal(fixed('girl, solo, tk', 'trigger-not-first'), 'tk, girl, solo');
  });
  it('trigger not kept when shuffle_caption is on', () => {
    const shuffle = (o: object = {}): ConceptContext => ({ trigger: 'tk', options: { shuffleCaption: true, ...o } });
    const zero = lint('tk, girl', shuffle());
    assert.deepEqual(brief(zero), [['trigger-not-kept', 'warning', 0, 2]]);
    assert.match(zero[0]?.message ?? '', /keep_tokens is 0, so every tag is shuffled/);
    assert.deepEqual(lint('tk, girl', shuffle({ keepTokens: 1 })), []);
    const second = lint('girl, tk', shuffle({ keepTokens: 1 }));
    assert.deepEqual(brief(second), [['trigger-not-kept', 'warning', 6, 8]]);
    assert.equal(fixed('girl, tk', 'trigger-not-kept', shuffle({ keepTokens: 1 })), 'tk, girl');
    assert.deepEqual(lint('girl, tk', shuffle({ keepTokens: 2 })), []);
    // keep_tokens counts the prefix's pieces
    assert.deepEqual(brief(lint('tk, girl', shuffle({ keepTokens: 1, captionPrefix: 'masterpiece,' }))), [['trigger-not-kept', 'warning', 0, 2]]);
    // the keep-tokens separator: fixed and fixed-suffix parts are kept, the flex part is shuffled
    const kts = { keepTokensSeparator: '|||' };
    assert.deepEqual(lint('tk, girl ||| a, b', shuffle(kts)), []);
    assert.deepEqual(lint('girl ||| a, b ||| tk', shuffle(kts)), []);
    const flex = lint('girl ||| a, tk', shuffle(kts));
    assert.deepEqual(brief(flex), [['trigger-not-kept', 'warning', 12, 14]]);
    assert.match(flex[0]?.message ?? '', /it is after '\|\|\|', in the part that gets shuffled/);
    assert.equal(fixed('girl ||| a, tk', 'trigger-not-kept', shuffle(kts)), 'tk, girl ||| a');
  });
  it('keep-tokens separator read literally without token processing', () => {
    const ctx = { trigger: 'tk', options: { keepTokensSeparator: '|||' } };
    const d = lint('tk, girl ||| smile, solo', ctx);
    assert.deepEqual(brief(d), [['keep-separator-literal', 'warning', 9, 12]]);
    assert.equal(fixed('tk, girl ||| smile, solo', 'keep-separator-literal', ctx), 'tk, girl, smile, solo');
    assert.deepEqual(lint('tk, girl ||| smile', { trigger: 'tk', options: { keepTokensSeparator: '|||', shuffleCaption: true } }), []);
  });
  it('duplicate tags, also spelt differently', () => {
    const d = lint('tk, blue_hair, smile, Blue hair, smile');
    assert.deepEqual(brief(d), [
      ['duplicate-tag', 'info', 22, 31],
      ['duplicate-tag', 'info', 33, 38],
      ['mixed-underscore-style', 'info', 4, 13],
    ]);
    assert.equal(d[0]?.message, "'Blue hair' is the same tag as 'blue_hair' (tag 2), spelt differently.");
    assert.equal(d[1]?.message, "'smile' is already tag 3: the repeat only weighs it more.");
    assert.equal(fixed('tk, smile, smile\n', 'duplicate-tag'), 'tk, smile\n');
  });
  it('mixed underscore and space style, with fixes to either', () => {
    const s = 'tk, long_hair, blue_eyes, open mouth, ^_^';
    const d = lint(s);
    assert.deepEqual(brief(d), [['mixed-underscore-style', 'info', 26, 36]]);
    assert.equal(fixed(s, 'mixed-underscore-style', undefined, 0), 'tk, long_hair, blue_eyes, open_mouth, ^_^');
    assert.equal(fixed(s, 'mixed-underscore-style', undefined, 1), 'tk, long hair, blue eyes, open mouth, ^_^');
    assert.deepEqual(lint('tk, long_hair, ^_^, a b_c'), []);
  });
  it('tags the trigger should absorb', () => {
    const ctx = { trigger: 'tk', absorbed: ['blue hair', 'cat_ears'] };
    const d = lint('tk, blue_hair, smile, cat_ears', ctx);
    assert.deepEqual(brief(d), [
      ['absorbed-tag', 'warning', 4, 13],
      ['absorbed-tag', 'warning', 22, 30],
    ]);
    assert.match(d[0]?.message ?? '', /training ties that feature to 'blue_hair' instead of the trigger/);
    assert.equal(fixed('tk, blue_hair, smile', 'absorbed-tag', ctx), 'tk, smile');
  });
  it('severities are configurable, and rules can be turned off', () => {
    const d = lint('girl, tk, girl', { trigger: 'tk' }, { severities: { 'trigger-not-first': 'error', 'duplicate-tag': 'off' } });
    assert.deepEqual(brief(d), [['trigger-not-first', 'error', 6, 8]]);
  });
  it('accepts decoded text (what an editor has), BOM included', () => {
    const r = lintCaption('a.txt', '\ufeffgirl, tk', { trigger: 'tk' });
    assert.deepEqual(brief(r.diagnostics), [['bom', 'warning', 0, 4], ['trigger-not-first', 'info', 6, 8]]);
    assert.deepEqual(r.tagKeys, ['girl', 'tk']);
  });
});

describe('dataset index: pollution candidates, incrementally', () => {
  const files = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => [`/d/${i}.txt`, f(i)] as const);
  it('reports tags on at least 80% of a concept’s files, with why', () => {
    const idx = new CaptionIndex();
    idx.setConcept('c', { trigger: 'tk' }, '5_tk girl');
    for (const [f, t] of files(10, (i) => `tk, blue_hair${i < 8 ? ', smile' : ''}${i < 7 ? ', solo' : ''}`)) idx.updateFile(f, 'c', enc(t));
    assert.deepEqual(idx.conceptStats('c')?.candidates, ['blue hair', 'smile']);
    const d = idx.diagnostics('/d/0.txt');
    assert.deepEqual(brief(d), [
      ['pollution-candidate', 'info', 4, 13],
      ['pollution-candidate', 'info', 15, 20],
    ]);
    assert.match(d[0]?.message ?? '', /^'blue_hair' is on 10 of 10 images \(100%\) of '5_tk girl'\. .*learns the feature it names in its place/);
    assert.equal(applyEdits('tk, blue_hair, smile, solo', d[0]?.fixes[0]?.edits ?? []), 'tk, smile, solo');
    assert.equal(idx.allDiagnostics().size, 10);
  });
  it('loads many files at once and summarises candidates once per concept', () => {
    const idx = new CaptionIndex();
    idx.setConcept('c', { trigger: 'tk' }, '5_tk girl');
    const ch = idx.updateFiles(files(6, (i) => (i < 5 ? 'tk, Blue_Hair, smile' : 'tk, smile')).map(([file, t]) => ({ file, concept: 'c', input: enc(t) })));
    assert.equal(ch.files.length, 6);
    assert.deepEqual(idx.pollutionSummary(), [
      { concept: 'c', conceptName: '5_tk girl', tag: 'smile', key: 'smile', files: 6, total: 6, severity: 'info' },
      { concept: 'c', conceptName: '5_tk girl', tag: 'Blue_Hair', key: 'blue hair', files: 5, total: 6, severity: 'info' },
    ]);
    assert.deepEqual(idx.diagnostics('/d/0.txt', { pollution: false }), []);
    assert.equal(idx.diagnostics('/d/0.txt').length, 2);
    assert.deepEqual(new CaptionIndex({ severities: { 'pollution-candidate': 'off' } }).pollutionSummary(), []);
  });
  it('updates one file at a time and says which files changed', () => {
    const idx = new CaptionIndex({ pollutionShare: 0.8, pollutionMinFiles: 5 });
    idx.setConcept('c', { trigger: 'tk' });
    for (const [f, t] of files(5, (i) => (i < 4 ? 'tk, smile' : 'tk'))) idx.updateFile(f, 'c', enc(t));
    assert.deepEqual(idx.conceptStats('c')?.candidates, ['smile']); // 4 of 5
    // 4th file loses smile: 3 of 5 → no longer a candidate; the files with smile change
    const ch = idx.updateFile('/d/3.txt', 'c', enc('tk, solo'));
    assert.deepEqual(ch.files.sort(), ['/d/0.txt', '/d/1.txt', '/d/2.txt', '/d/3.txt']);
    assert.deepEqual(idx.conceptStats('c')?.candidates, []);
    assert.deepEqual(idx.diagnostics('/d/0.txt'), []);
    // an edit that changes no candidate touches only its file
    assert.deepEqual(idx.updateFile('/d/4.txt', 'c', enc('tk, hat')).files, ['/d/4.txt']);
    assert.equal(idx.conceptStats('c')?.counts.get('hat'), 1);
    assert.equal(idx.conceptStats('c')?.counts.get('smile'), 3);
    // removing a file changes the share
    idx.removeFile('/d/4.txt');
    assert.deepEqual(idx.conceptStats('c')?.candidates, []); // 4 files < min 5
    assert.equal(idx.fileCount, 4);
  });
  it('gives the same result incrementally as from scratch', () => {
    const texts = files(30, (i) => ['tk', i % 3 ? 'a' : 'b', i % 7 ? 'c' : 'd', 'e'].join(', '));
    const inc = new CaptionIndex();
    inc.setConcept('c', { trigger: 'tk' });
    for (const [f] of texts) inc.updateFile(f, 'c', enc('x'));
    for (const [f, t] of texts) inc.updateFile(f, 'c', enc(t));
    const fresh = new CaptionIndex();
    fresh.setConcept('c', { trigger: 'tk' });
    for (const [f, t] of texts) fresh.updateFile(f, 'c', enc(t));
    assert.deepEqual([...inc.allDiagnostics()], [...fresh.allDiagnostics()]);
    assert.deepEqual(inc.conceptStats('c')?.candidates, ['c', 'e']);
  });
  it('does not count the trigger, absorbed or ignored tags, nor small concepts', () => {
    const idx = new CaptionIndex();
    idx.setConcept('c', { trigger: 'tk', absorbed: ['blue hair'], pollutionIgnore: ['1girl'] });
    for (const [f] of files(6, () => '')) idx.updateFile(f, 'c', enc('tk, blue_hair, 1girl, solo'));
    assert.deepEqual(idx.conceptStats('c')?.candidates, ['solo']);
    const small = new CaptionIndex();
    for (const [f] of files(4, () => '')) small.updateFile(f, 's', enc('tk, solo'));
    assert.deepEqual(small.conceptStats('s')?.candidates, []);
  });
  it('re-checks a concept when its trigger changes, and reports unreadable files', () => {
    const idx = new CaptionIndex();
    idx.setConcept('c', { trigger: 'tk' });
    idx.updateFile('/d/a.txt', 'c', enc('ohwx, girl'));
    assert.deepEqual(idx.diagnostics('/d/a.txt').map((d) => d.code), ['trigger-missing']);
    assert.deepEqual(idx.setConcept('c', { trigger: 'ohwx' }).files, ['/d/a.txt']);
    assert.deepEqual(idx.diagnostics('/d/a.txt'), []);
    idx.updateFile('/d/b.txt', 'c', new Error('EACCES: permission denied'));
    assert.deepEqual(brief(idx.diagnostics('/d/b.txt')), [['unreadable', 'error', 0, 0]]);
    idx.updateFile('/d/c.txt', 'c', new Uint8Array([0xff]));
    assert.deepEqual(idx.diagnostics('/d/c.txt').map((d) => d.code), ['not-utf8']);
    // moving a file to another concept moves its counts
    idx.updateFile('/d/a.txt', 'other', enc('ohwx, girl'));
    assert.equal(idx.conceptStats('c')?.counts.get('girl'), undefined);
    assert.equal(idx.conceptStats('other')?.counts.get('girl'), 1);
  });
});
