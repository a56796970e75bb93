import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { AuditSession, rateProblems } from '../../src/core/dataset/auditSession';
import { fixChoices } from '../../src/core/dataset/auditFixes';
import { runAudit, runTransform } from '../../src/workers/imageAudit';
import { Journal } from '../../src/core/captions/journal';
import { loadSharp } from './dataset-fixtures';
import { ROOT, tempDir } from './helpers';
// @ts-expect-error plain JavaScript shared with the in-host and Playwright tests
import { makeBadImageFolder } from '../fixtures/audit-images/badFolder.mjs';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'audit-images');
const make = makeBadImageFolder as (parent: string, fixtures: string) => { folder: string; expected: Record<string, string[]> };

function codesByName(problems: ReadonlyArray<{ file: string; code: string }>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of problems) (out[path.basename(p.file)] ??= []).push(p.code);
  for (const k of Object.keys(out)) out[k]?.sort();
  return out;
}

async function auditFolder(folder: string, perceptual = true): Promise<AuditSession> {
  const r = await runAudit({ folders: [folder], files: [], sidecarExtensions: ['.txt', '.caption'], perceptual }, { sharp: loadSharp() });
  const s = new AuditSession();
  for (const f of r.folders) s.setFolder(f);
  await s.hashCollisions();
  return s;
}

describe('image audit: worker and session on a generated bad-image folder', () => {
  it('gives every file exactly its codes', async (t) => {
    const { folder, expected } = make(tempDir(t), FIXTURES);
    const s = await auditFolder(folder);
    assert.deepEqual(codesByName(s.problems()), expected);
    const dup = s.problems().find((p) => p.code === 'duplicate' && path.basename(p.file) === 'dup b.png');
    assert.deepEqual(dup?.related, [path.join(folder, 'dup a.png')]);
  });

  it('lists names that are not UTF-8 and looping links on their folder, without crashing', async (t) => {
    const dir = path.join(tempDir(t), '2_names');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'ok.png'), readFileSync(path.join(FIXTURES, 'clean.png')));
    writeFileSync(Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x66, 0xff, 0xfe]), Buffer.from('.png')]), 'x');
    symlinkSync('loop.png', path.join(dir, 'loop.png'));
    const problems = (await auditFolder(dir, false)).problems();
    const onFolder = problems.filter((p) => p.file === dir);
    assert.equal(onFolder.length, 1);
    assert.match(onFolder[0]?.message ?? '', /not valid UTF-8/);
    const loop = problems.find((p) => p.file === path.join(dir, 'loop.png'));
    assert.match(loop?.message ?? '', /broken or looping symbolic link/);
    assert.deepEqual(codesByName(problems.filter((p) => p.file === path.join(dir, 'ok.png')))['ok.png'], ['imageWithoutCaption', 'tooSmall']);
  });

  it('re-reads one changed file and recomputes duplicates from memory', async (t) => {
    const { folder } = make(tempDir(t), FIXTURES);
    const s = await auditFolder(folder);
    // dup b.png gets the content of png named.jpg: only that file is read and hashed again
    writeFileSync(path.join(folder, 'dup b.png'), readFileSync(path.join(FIXTURES, 'clean.png')));
    const r = await runAudit({ folders: [], files: [path.join(folder, 'dup b.png')], sidecarExtensions: ['.txt'], perceptual: true }, { sharp: loadSharp() });
    assert.equal(r.files.length, 1);
    s.upsert(r.files.map((f) => ({ ...f, sidecars: [path.join(folder, 'dup b.txt')], hasCaption: true })));
    assert.equal(await s.hashCollisions(), 1, 'only the changed file is hashed again');
    const codes = codesByName(s.problems());
    assert.deepEqual(codes['dup a.png'], ['tooSmall']);
    assert.deepEqual(codes['dup b.png'], ['duplicate', 'tooSmall']);
    assert.deepEqual(codes['png named.jpg'], ['duplicate', 'extensionMismatch', 'tooSmall']);
    // a caption appears for tiny.png: only its rules change
    assert.equal(s.setSidecars(path.join(folder, 'tiny.png'), [path.join(folder, 'tiny.txt')], true), true);
    assert.equal(s.setSidecars(path.join(folder, 'tiny.png'), [path.join(folder, 'tiny.txt')], true), false);
    assert.deepEqual(codesByName(s.problems())['tiny.png'], ['tooSmall']);
    s.remove([path.join(folder, 'tiny.png')]);
    assert.equal(codesByName(s.problems())['tiny.png'], undefined);
    s.removeFolder(folder);
    assert.deepEqual(s.problems(), []);
  });

  it('applies severities and turns rules off', async (t) => {
    const { folder } = make(tempDir(t), FIXTURES);
    const s = await auditFolder(folder, false);
    const rated = rateProblems(s.problems(), { tooSmall: 'off', cmyk: 'error', alpha: 'hint' });
    assert.ok(!rated.some((p) => p.code === 'tooSmall'));
    assert.equal(rated.find((p) => p.code === 'cmyk')?.severity, 'error');
    assert.equal(rated.find((p) => p.code === 'alpha')?.severity, 'hint');
    assert.equal(rated.find((p) => p.code === 'exifOrientation')?.severity, 'warning');
  });

  it('offers the safe fixes per problem', async (t) => {
    const { folder } = make(tempDir(t), FIXTURES);
    const s = await auditFolder(folder, false);
    const of = (n: string) => fixChoices(path.join(folder, n), s.problems().filter((p) => path.basename(p.file) === n)).map((c) => c.kind);
    assert.deepEqual(of('rotated.jpg'), ['rotateExif']);
    assert.deepEqual(of('cmyk.jpg'), ['toRgb8']);
    assert.deepEqual(of('透明 alpha.png'), ['toRgb8']);
    assert.deepEqual(of('png named.jpg'), ['rename']);
    assert.deepEqual(of('dup a.png'), []);
    assert.deepEqual(of('dup b.png'), ['trash']);
    assert.deepEqual(of('0 empty.png'), ['trash']);
    assert.deepEqual(of('tiny.png'), []);
    const rename = fixChoices(path.join(folder, 'png named.jpg'), s.problems().filter((p) => p.code === 'extensionMismatch'))[0];
    assert.equal(rename?.to, path.join(folder, 'png named.png'));
    const trash = fixChoices(path.join(folder, 'dup b.png'), s.problems().filter((p) => p.code === 'duplicate' && p.file.endsWith('dup b.png')))[0];
    assert.deepEqual(trash?.files, [path.join(folder, 'dup b.png'), path.join(folder, 'dup b.txt')]);
  });
});

describe('image fixes: sharp transforms and the journal', () => {
  it('rotates pixels upright, drops the orientation, and the journal undoes it byte for byte', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'rotated.jpg');
    writeFileSync(file, readFileSync(path.join(FIXTURES, 'rotated.jpg')));
    const sharp = loadSharp();
    const before = await sharp(file).metadata();
    assert.deepEqual([before.width, before.height, before.orientation], [96, 64, 6]);
    const out = path.join(dir, 'out.jpg');
    const r = await runTransform({ op: 'rotateExif', file, out }, sharp);
    assert.deepEqual([r.format, r.width, r.height], ['jpeg', 64, 96]);
    const after = await sharp(out).metadata();
    assert.equal(after.orientation, undefined);
    const old = readFileSync(file);
    const j = new Journal(path.join(dir, 'journal'), { fsync: false });
    const applied = await j.apply('rotate', [{ file, oldBytes: old, newBytes: readFileSync(out) }], { binary: true });
    assert.equal(applied.ok, true);
    assert.deepEqual(applied.written, [file]);
    // without `binary` the journal refuses files that are not UTF-8 text
    const refused = await j.apply('again', [{ file, oldBytes: readFileSync(file), newBytes: old }]);
    assert.match(refused.skipped[0]?.reason ?? '', /not UTF-8/);
    assert.deepEqual((await sharp(file).metadata()).width, 64);
    const undone = await j.undo();
    assert.equal(undone.ok, true);
    assert.ok(readFileSync(file).equals(old));
  });

  it('converts CMYK and alpha to 8-bit RGB in the same format', async (t) => {
    const dir = tempDir(t);
    const sharp = loadSharp();
    const cmyk = await runTransform({ op: 'toRgb8', file: path.join(FIXTURES, 'cmyk.jpg'), out: path.join(dir, 'c.jpg') }, sharp);
    const m1 = await sharp(cmyk.out).metadata();
    assert.deepEqual([m1.format, m1.space, m1.channels, m1.depth], ['jpeg', 'srgb', 3, 'uchar']);
    const alpha = await runTransform({ op: 'toRgb8', file: path.join(FIXTURES, 'alpha.png'), out: path.join(dir, 'a.png') }, sharp);
    const m2 = await sharp(alpha.out).metadata();
    assert.deepEqual([m2.format, m2.hasAlpha, m2.channels], ['png', false, 3]);
  });
});
