import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { previewBatch, readBatchInputs, transformCaption, type BatchOp } from '../../src/core/captions/batch';
import { atomicWriteFile, Journal, type FileChange } from '../../src/core/captions/journal';
import { tempDir } from './helpers';

const enc = (s: string) => new TextEncoder().encode(s);
const t = (s: string, ops: BatchOp[], o = {}) => transformCaption(s, ops, o).text;

describe('batch operations', () => {
  it('adds tags at the front, the end and a position, once', () => {
    assert.equal(t('1girl, solo\n', [{ op: 'add', tags: ['tk'], position: 'front' }]), 'tk, 1girl, solo\n');
    assert.equal(t('tk, 1girl\n', [{ op: 'add', tags: ['TK'], position: 'front' }]), 'tk, 1girl\n');
    assert.equal(t('a,b', [{ op: 'add', tags: ['x', 'y'], position: 'end' }]), 'a,b,x,y');
    assert.equal(t('a, b, c', [{ op: 'add', tags: ['x'], position: 1 }]), 'a, x, b, c');
    assert.equal(t('', [{ op: 'add', tags: ['tk'], position: 'front' }]), 'tk');
    assert.equal(t('\ufeffa\r\nother line\r\n', [{ op: 'add', tags: ['tk'], position: 'front' }]), '\ufefftk, a\r\nother line\r\n');
    assert.equal(t('girl ||| a', [{ op: 'add', tags: ['tk'], position: 'front' }], { keepTokensSeparator: '|||' }), 'tk, girl ||| a');
    assert.equal(t('a\n\nb\n', [{ op: 'add', tags: ['tk'], position: 'front' }], { enableWildcard: true }), 'tk, a\n\ntk, b\n');
  });
  it('removes, replaces (keeping weights), normalises, moves and dedupes', () => {
    assert.equal(t('tk, blue_hair, smile\n', [{ op: 'remove', tags: ['blue hair'] }]), 'tk, smile\n');
    assert.equal(t('tk, (blue_hair:1.2), x', [{ op: 'replace', from: 'blue_hair', to: 'aqua hair' }]), 'tk, (aqua hair:1.2), x');
    assert.equal(t('tk, blue_hair, x', [{ op: 'replace', from: 'blue hair', to: '' }]), 'tk, x');
    assert.equal(t('tk, long_hair, ^_^, a_b', [{ op: 'normalise', style: 'spaces' }]), 'tk, long hair, ^_^, a b');
    assert.equal(t('tk, long hair', [{ op: 'normalise', style: 'underscores' }]), 'tk, long_hair');
    assert.equal(t('a, b,tk\n', [{ op: 'moveToFront', tag: 'tk' }]), 'tk, a, b\n');
    assert.equal(t('tk, a, A, b, a', [{ op: 'dedupe' }]), 'tk, a, b');
    assert.equal(t('tk, a', [{ op: 'dedupe' }]), 'tk, a');
    assert.equal(t('tk, c, a, B\n', [{ op: 'sort', keep: 1 }]), 'tk, a, B, c\n');
    assert.equal(t('z, c ||| b, a', [{ op: 'sort' }], { keepTokensSeparator: '|||' }), 'c, z ||| a, b');
    assert.equal(transformCaption('tk, c, a', [{ op: 'sort', keep: 1 }]).counts.moved, 2);
  });
  it('counts what changes and skips files it must not touch', (tc) => {
    const dir = tempDir(tc);
    const p = previewBatch(
      [
        { file: path.join(dir, 'a.txt'), bytes: enc('1girl, solo\n') },
        { file: path.join(dir, 'b.txt'), bytes: enc('tk, 1girl\n') },
        { file: path.join(dir, 'c.txt'), bytes: new Uint8Array([0x61, 0xe9]) },
        { file: path.join(dir, 'd.txt'), bytes: null },
        { file: path.join(dir, 'e.txt'), bytes: null, error: 'EACCES' },
      ],
      [{ op: 'add', tags: ['tk'], position: 'front' }, { op: 'remove', tags: ['solo'] }],
    );
    assert.deepEqual(
      p.files.map((f) => [path.basename(f.file), f.oldText, f.newText, f.counts]),
      [
        ['a.txt', '1girl, solo\n', 'tk, 1girl\n', { added: 1, removed: 1, replaced: 0, moved: 0 }],
        ['d.txt', null, 'tk\n', { added: 1, removed: 0, replaced: 0, moved: 0 }],
      ],
    );
    assert.equal(p.unchanged, 1);
    assert.deepEqual(p.skipped.map((s) => [path.basename(s.file), s.reason.split(':')[0]]), [['c.txt', 'not UTF-8'], ['e.txt', 'cannot be read']]);
    assert.deepEqual(p.totals, { files: 2, added: 2, removed: 1, replaced: 0, moved: 0 });
    // without an add, a missing file stays missing
    assert.equal(previewBatch([{ file: 'x', bytes: null }], [{ op: 'dedupe' }]).files.length, 0);
  });
});

function setup(tc: Parameters<typeof tempDir>[0], n = 5) {
  const dir = tempDir(tc);
  const files = Array.from({ length: n }, (_, i) => path.join(dir, `${i}.txt`));
  files.forEach((f, i) => writeFileSync(f, `img${i}, solo\n`));
  return { dir, files, journal: new Journal(path.join(dir, '.lwb-journal'), { fsync: false }) };
}

async function addTk(files: string[]): Promise<FileChange[]> {
  const p = previewBatch(await readBatchInputs(files), [{ op: 'add', tags: ['tk'], position: 'front' }]);
  return p.files.map((f) => ({ file: f.file, oldBytes: f.oldBytes, newBytes: f.newBytes }));
}

const contents = (files: string[]) => files.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null));

describe('atomic writer and journal', () => {
  it('writes atomically, keeping the mode and leaving no temporary file', async (tc) => {
    const dir = tempDir(tc);
    const f = path.join(dir, 'a.txt');
    writeFileSync(f, 'old');
    chmodSync(f, 0o640);
    await atomicWriteFile(f, 'new');
    assert.equal(readFileSync(f, 'utf8'), 'new');
    assert.equal(statSync(f).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(dir), ['a.txt']);
    await assert.rejects(atomicWriteFile(path.join(dir, 'missing', 'x.txt'), 'x'));
    assert.deepEqual(readdirSync(dir), ['a.txt']);
  });
  it('applies a batch, undoes it, redoes it', async (tc) => {
    const { files, journal } = setup(tc);
    const before = contents(files);
    const r = await journal.apply('add tk', await addTk(files));
    assert.equal(r.ok, true);
    assert.equal(r.written.length, 5);
    assert.deepEqual(contents(files), before.map((s) => `tk, ${s}`));
    assert.deepEqual((await journal.list()).map((b) => [b.label, b.state, b.files]), [['add tk', 'applied', 5]]);
    const u = await journal.undo();
    assert.equal(u.ok, true, u.message);
    assert.deepEqual(contents(files), before);
    assert.equal((await journal.undo()).message, 'nothing to undo');
    const re = await journal.redo();
    assert.equal(re.ok, true, re.message);
    assert.deepEqual(contents(files), before.map((s) => `tk, ${s}`));
    assert.equal((await journal.redo()).message, 'nothing to redo');
  });
  it('undoes batches newest first and undoes file creation by deleting', async (tc) => {
    const { dir, files, journal } = setup(tc, 2);
    const created = path.join(dir, 'new.txt');
    await journal.apply('first', await addTk(files));
    const second = previewBatch(await readBatchInputs([...files, created]), [{ op: 'add', tags: ['x'], position: 'end' }]);
    await journal.apply('second', second.files.map((f) => ({ file: f.file, oldBytes: f.oldBytes, newBytes: f.newBytes })));
    assert.equal(readFileSync(created, 'utf8'), 'x\n');
    assert.deepEqual(contents(files), ['tk, img0, solo, x\n', 'tk, img1, solo, x\n']);
    await journal.undo();
    assert.equal(existsSync(created), false);
    assert.deepEqual(contents(files), ['tk, img0, solo\n', 'tk, img1, solo\n']);
    await journal.undo();
    assert.deepEqual(contents(files), ['img0, solo\n', 'img1, solo\n']);
    // redo goes the other way: the batch undone last first
    assert.equal((await journal.redo()).message, 'redid "first": 2 file(s)');
    assert.equal((await journal.redo()).message, 'redid "second": 3 file(s)');
    assert.equal(readFileSync(created, 'utf8'), 'x\n');
    // a new batch after an undo clears the redo stack
    await journal.undo();
    await journal.apply('third', await addTk([created]));
    assert.equal((await journal.redo()).message, 'nothing to redo');
    // pruning keeps the newest batches
    assert.equal((await journal.prune(1)).length, 2);
    assert.deepEqual((await journal.list()).map((b) => b.label), ['third']);
  });
  it('refuses to undo when a file changed since, naming it, and writes nothing', async (tc) => {
    const { files, journal } = setup(tc, 3);
    await journal.apply('add tk', await addTk(files));
    writeFileSync(files[1] as string, 'edited by hand\n');
    const u = await journal.undo();
    assert.equal(u.ok, false);
    assert.deepEqual(u.conflicts.map((c) => [path.basename(c.file), c.reason]), [['1.txt', 'changed since the batch']]);
    assert.match(u.message, /1\.txt/);
    assert.deepEqual(contents(files), ['tk, img0, solo\n', 'edited by hand\n', 'tk, img2, solo\n']);
  });
  it('skips files changed since the preview, not UTF-8, or read-only', async (tc) => {
    const { files, journal } = setup(tc, 4);
    const changes = await addTk(files);
    writeFileSync(files[0] as string, 'changed meanwhile\n');
    writeFileSync(files[1] as string, Buffer.from([0xff, 0x0a]));
    changes[1] = { file: files[1] as string, oldBytes: new Uint8Array([0xff, 0x0a]), newBytes: enc('x') };
    chmodSync(files[2] as string, 0o444);
    const r = await journal.apply('add tk', changes);
    assert.equal(r.ok, true);
    assert.deepEqual(r.skipped.map((s) => [path.basename(s.file), s.reason]), [
      ['0.txt', 'changed on disk since the preview: left untouched'],
      ['1.txt', 'not UTF-8: left untouched'],
      ['2.txt', 'read-only: left untouched'],
    ]);
    assert.deepEqual(r.written.map((f) => path.basename(f)), ['3.txt']);
    assert.deepEqual(readFileSync(files[1] as string), Buffer.from([0xff, 0x0a]));
  });
  it('rolls back when a write fails mid-batch: every file old', async (tc) => {
    const { files, journal } = setup(tc, 5);
    const before = contents(files);
    const r = await journal.apply('add tk', await addTk(files), {
      beforeWrite: (_f, i) => {
        if (i === 3) throw new Error('disk full');
      },
    });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /disk full; the batch was rolled back/);
    assert.deepEqual(contents(files), before);
    assert.deepEqual((await journal.list()).map((b) => b.state), ['rolledBack']);
    assert.equal((await journal.undo()).message, 'nothing to undo');
  });
  it('recovers a batch interrupted by a crash: every file old or new, recover restores all', async (tc) => {
    const { dir, files, journal } = setup(tc, 6);
    const before = contents(files);
    const r = await journal.apply('add tk', await addTk(files), { simulateCrashAfter: 4 });
    assert.equal(r.ok, false);
    // each file is entirely old or entirely new, and no temporary file is left
    const now = contents(files);
    now.forEach((s, i) => assert.ok(s === before[i] || s === `tk, ${before[i]}`));
    assert.equal(now.filter((s, i) => s !== before[i]).length, 4);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('lwb-tmp')), []);
    // a new journal object (after a restart) sees it
    const reopened = new Journal(path.join(dir, '.lwb-journal'), { fsync: false });
    assert.deepEqual((await reopened.interrupted()).map((b) => b.state), ['pending']);
    assert.equal((await reopened.undo()).message, 'an interrupted batch must be recovered first');
    const rec = await reopened.recover();
    assert.equal(rec.restored.length, 4);
    assert.deepEqual(rec.conflicts, []);
    assert.deepEqual(contents(files), before);
    assert.deepEqual(await reopened.interrupted(), []);
  });
  it('reports a file edited after a crash instead of overwriting it', async (tc) => {
    const { files, journal } = setup(tc, 2);
    await journal.apply('add tk', await addTk(files), { simulateCrashAfter: 1 });
    writeFileSync(files[0] as string, 'mine\n');
    const rec = await journal.recover();
    assert.deepEqual(rec.conflicts.map((c) => path.basename(c.file)), ['0.txt']);
    assert.deepEqual(contents(files), ['mine\n', 'img1, solo\n']);
  });
  it('writes the journal entry before changing files, and reports a journal it cannot write', async (tc) => {
    const { dir, files } = setup(tc, 2);
    const blocker = path.join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    const bad = new Journal(path.join(blocker, 'journal'), { fsync: false });
    const r = await bad.apply('x', await addTk(files));
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /the journal could not be written/);
    assert.deepEqual(contents(files), ['img0, solo\n', 'img1, solo\n']);
    // an empty batch writes no journal entry
    const j = new Journal(path.join(dir, 'j'), { fsync: false });
    assert.deepEqual(await j.apply('none', []), { ok: true, id: null, written: [], skipped: [] });
    assert.equal(existsSync(path.join(dir, 'j')), false);
    mkdirSync(path.join(dir, 'j'));
    writeFileSync(path.join(dir, 'j', 'garbage'), 'x');
    assert.deepEqual(await j.list(), []);
  });
  it('records a batch that only edited unsaved editors, so undo returns it and not the batch before', async (tc) => {
    const { files, journal } = setup(tc, 2);
    const before = contents(files);
    const first = await journal.apply('on disk', await addTk(files));
    assert.equal(first.ok, true);
    const edit = { file: path.join(path.dirname(files[0] as string), 'open.txt'), before: 'a, solo', after: 'a' };
    const second = await journal.apply('editor only', [], { documents: [edit] });
    assert.equal(second.ok, true);
    assert.ok(second.id, 'an editor-only batch is a journal batch');
    assert.deepEqual(second.written, []);
    assert.deepEqual((await journal.list()).map((b) => [b.label, b.state, b.files, b.documents]), [
      ['on disk', 'applied', 2, 0],
      ['editor only', 'applied', 0, 1],
    ]);
    const u = await journal.undo();
    assert.equal(u.ok, true, u.message);
    assert.equal(u.id, second.id);
    assert.deepEqual(u.documents, [edit]);
    assert.deepEqual(u.restored, []);
    assert.match(u.message, /undid "editor only": 0 file\(s\) and 1 unsaved editor\(s\)/);
    assert.deepEqual(contents(files), before.map((s) => `tk, ${s}`), 'the disk batch before it is not undone');
    const u2 = await journal.undo();
    assert.equal(u2.id, first.id);
    assert.equal(u2.documents, undefined);
    assert.deepEqual(contents(files), before);
    // redo repeats the newest undone first, handing the editor edit back again
    assert.equal((await journal.redo()).id, first.id);
    const r2 = await journal.redo();
    assert.equal(r2.id, second.id);
    assert.deepEqual(r2.documents, [edit]);
  });
  it('undoes a mixed batch (files and editors) as one step, and setDocuments keeps only the edits made', async (tc) => {
    const { files, journal } = setup(tc, 2);
    const before = contents(files);
    const docs = [
      { file: '/x/a.txt', before: 'a', after: 'tk, a' },
      { file: '/x/b.txt', before: 'b', after: 'tk, b' },
    ];
    const r = await journal.apply('mixed', await addTk(files), { documents: docs });
    assert.equal(r.ok, true);
    await journal.setDocuments(r.id as string, [docs[1] as (typeof docs)[number]]);
    const u = await journal.undo();
    assert.equal(u.ok, true, u.message);
    assert.equal(u.restored.length, 2);
    assert.deepEqual(u.documents, [docs[1]]);
    assert.deepEqual(contents(files), before);
    // an editor-only batch whose edits all failed is no batch: undo skips it
    const lone = await journal.apply('failed edit', [], { documents: [docs[0] as (typeof docs)[number]] });
    await journal.setDocuments(lone.id as string, []);
    assert.deepEqual((await journal.list()).map((b) => b.state), ['undone', 'rolledBack']);
    assert.equal((await journal.undo()).message, 'nothing to undo');
    await assert.rejects(journal.setDocuments('no-such-batch', []), /no batch no-such-batch/);
  });
});
