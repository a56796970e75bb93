import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { LWB_CLI as LWB, SAMPLE_TRAIN, tempDir } from './helpers';

function lwb(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [LWB, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/** a copy of the sample train_data_dir in a temp folder (sample/ is never modified) */
function sampleCopy(t: Parameters<typeof tempDir>[0]): { root: string; concept: string } {
  const root = path.join(tempDir(t), 'img_train');
  cpSync(SAMPLE_TRAIN, root, { recursive: true });
  return { root, concept: path.join(root, '5_tk girl') };
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.txt')).sort()) out[f] = readFileSync(path.join(dir, f), 'latin1');
  return out;
}

describe('lwb lint', () => {
  it('passes the sample dataset (no errors), listing its pollution candidates once per concept', () => {
    const r = lwb(['lint', SAMPLE_TRAIN]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^5_tk girl: trigger 'tk' from folderName$/m);
    assert.match(r.out, /^5_tk girl\/: info \[pollution-candidate\] 'blue_hair' is on 14 of 14 images \(100%\) of this concept/m);
    assert.doesNotMatch(r.out, /1\.txt:1:\d+: info \[pollution-candidate\]/);
    assert.match(r.out, /^14 caption files checked: 0 errors, 0 warnings, \d+ info$/m);
  });
  it('exits 1 on errors and prints file:line:col diagnostics', (t) => {
    const { root, concept } = sampleCopy(t);
    writeFileSync(path.join(concept, '1.txt'), '');
    writeFileSync(path.join(concept, '2.txt'), Buffer.from([0x74, 0x6b, 0xe9]));
    writeFileSync(path.join(concept, '3.txt'), '1girl, solo, tk\nsecond\n');
    const r = lwb(['lint', root, '--share', '1']);
    assert.equal(r.code, 1);
    assert.match(r.out, /^5_tk girl\/1\.txt:1:1: error \[empty-file\] /m);
    assert.match(r.out, /^5_tk girl\/2\.txt:1:1: error \[not-utf8\] /m);
    assert.match(r.out, /^5_tk girl\/3\.txt:1:14: info \[trigger-not-first\] /m);
    assert.match(r.out, /^5_tk girl\/3\.txt:2:1: warning \[multi-line\] /m);
    assert.match(r.out, /: 2 errors, 1 warning, /);
  });
  it('uses --trigger, shuffle options and --severity; prints JSON', (t) => {
    const { root } = sampleCopy(t);
    const r = lwb(['lint', root, '--trigger', 'ohwx', '--severity', 'trigger-missing=error,pollution-candidate=off', '--json']);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.out) as { captionFiles: number; counts: Record<string, number>; diagnostics: Array<{ code: string; severity: string; file: string }> };
    assert.equal(j.captionFiles, 14);
    assert.deepEqual(j.counts, { error: 14, warning: 0, info: 0, hint: 0 });
    assert.ok(j.diagnostics.every((d) => d.code === 'trigger-missing' && d.severity === 'error'));
    const shuffled = JSON.parse(lwb(['lint', root, '--shuffle-caption', '--json']).out) as { diagnostics: Array<{ code: string }> };
    assert.equal(shuffled.diagnostics.filter((d) => d.code === 'trigger-not-kept').length, 14);
    const kept = JSON.parse(lwb(['lint', root, '--shuffle-caption', '--keep-tokens', '1', '--json']).out) as { diagnostics: Array<{ code: string }> };
    assert.equal(kept.diagnostics.filter((d) => d.code === 'trigger-not-kept').length, 0);
  });
  it('exits 2 on usage errors and 3 on a missing folder', (t) => {
    assert.equal(lwb(['lint']).code, 2);
    assert.match(lwb(['lint', SAMPLE_TRAIN, '--severity', 'nope=error']).err, /unknown rule 'nope'/);
    assert.match(lwb(['lint', SAMPLE_TRAIN, '--share', '2']).err, /--share takes a number/);
    assert.equal(lwb(['lint', path.join(tempDir(t), 'missing')]).code, 3);
  });
});

describe('lwb tags', () => {
  it('previews with --dry-run and writes nothing', (t) => {
    const { root, concept } = sampleCopy(t);
    const before = snapshot(concept);
    const r = lwb(['tags', 'remove', root, 'blue_hair', '--dry-run']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^dry run: 14 file\(s\) would change \(0 added, 14 removed, 0 replaced, 0 moved\), 0 unchanged, 0 skipped; nothing written$/m);
    assert.match(r.out, /^ {2}- "tk, 1girl, .*blue_hair/m);
    assert.deepEqual(snapshot(concept), before);
    assert.equal(existsSync(path.join(root, '.lwb-journal')), false);
  });
  it('adds, replaces and undoes, byte for byte', (t) => {
    const { root, concept } = sampleCopy(t);
    const before = snapshot(concept);
    const add = lwb(['tags', 'add', root, 'masterpiece', '--end']);
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /^add masterpiece: 14 file\(s\) changed \(14 added/m);
    assert.ok(readFileSync(path.join(concept, '1.txt'), 'utf8').endsWith(', paw_pose, masterpiece\n'));
    const rep = lwb(['tags', 'replace', root, 'blue hair', 'aqua_hair']);
    assert.equal(rep.code, 0, rep.err);
    assert.match(readFileSync(path.join(concept, '1.txt'), 'utf8'), /, aqua_hair,/);
    const hist = lwb(['tags', 'history', root]);
    assert.match(hist.out, /applied +14 file\(s\) {2}add masterpiece\n.*applied +14 file\(s\) {2}replace blue hair → aqua_hair/);
    assert.equal(lwb(['tags', 'undo', root]).code, 0);
    assert.equal(lwb(['tags', 'undo', root]).code, 0);
    assert.deepEqual(snapshot(concept), before);
    assert.equal(lwb(['tags', 'undo', root]).code, 1);
    assert.equal(lwb(['tags', 'redo', root]).code, 0);
    assert.match(readFileSync(path.join(concept, '1.txt'), 'utf8'), /, masterpiece\n$/);
    assert.equal(lwb(['tags', 'sort', root, '--keep-tokens', '1']).code, 0);
    assert.match(readFileSync(path.join(concept, '1.txt'), 'utf8'), /^tk, 1girl, :d, all_fours, animal_ears, apron, blue_dress, /);
  });
  it('refuses to undo over a file edited since, naming it', (t) => {
    const { root, concept } = sampleCopy(t);
    const journal = path.join(tempDir(t), 'journal');
    assert.equal(lwb(['tags', 'move-front', root, 'solo', '--journal', journal]).code, 0);
    writeFileSync(path.join(concept, '5.txt'), 'my own edit\n');
    const r = lwb(['tags', 'undo', root, '--journal', journal]);
    assert.equal(r.code, 1);
    assert.match(r.out, /cannot undo "move solo to the front": 1 file\(s\) changed since: .*5\.txt/);
    assert.equal(readFileSync(path.join(concept, '5.txt'), 'utf8'), 'my own edit\n');
    assert.match(readFileSync(path.join(concept, '1.txt'), 'utf8'), /^solo, tk, /);
  });
  it('survives a process killed in the middle of a batch: every file old or new, then all restored', (t) => {
    const { root, concept } = sampleCopy(t);
    const before = snapshot(concept);
    const killed = lwb(['tags', 'add', root, 'tk2', '--front'], { LWB_TEST_KILL_AFTER: '5' });
    assert.equal(killed.signal, 'SIGKILL');
    // killed while up to 5 writes were in flight: each file is entirely old or entirely new
    const mid = snapshot(concept);
    const changed = Object.keys(mid).filter((f) => mid[f] !== before[f]);
    assert.ok(changed.length <= 5, `${changed.length} files changed`);
    for (const f of changed) assert.equal(mid[f], `tk2, ${before[f]}`);
    // the next command rolls the interrupted batch back first, temporary files included
    const r = lwb(['tags', 'undo', root]);
    assert.match(r.err, new RegExp(`an interrupted batch was rolled back \\(${changed.length} file\\(s\\) restored\\)`));
    assert.deepEqual(snapshot(concept), before);
    assert.deepEqual(readdirSync(concept).filter((n) => n.includes('lwb-tmp')), []);
  });
  it('leaves non-UTF-8 files alone and reports them; creates missing files only when asked', (t) => {
    const { root, concept } = sampleCopy(t);
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]);
    writeFileSync(path.join(concept, '2.txt'), latin1);
    mkdirSync(path.join(root, '2_other'));
    writeFileSync(path.join(root, '2_other', 'a.png'), '');
    const r = lwb(['tags', 'add', root, 'tk']);
    assert.equal(r.code, 0);
    assert.match(r.err, /skipped .*2\.txt: not UTF-8/);
    assert.deepEqual(readFileSync(path.join(concept, '2.txt')), latin1);
    assert.equal(existsSync(path.join(root, '2_other', 'a.txt')), false);
    assert.equal(lwb(['tags', 'add', root, 'ohwx', '--create-missing']).code, 0);
    assert.equal(readFileSync(path.join(root, '2_other', 'a.txt'), 'utf8'), 'ohwx\n');
  });
  it('prints tag counts and usage errors', (t) => {
    const s = lwb(['tags', 'stats', SAMPLE_TRAIN, '--json']);
    assert.equal(s.code, 0);
    const j = JSON.parse(s.out) as Record<string, Array<{ tag: string; count: number }>>;
    assert.deepEqual(j['5_tk girl']?.find((x) => x.tag === 'tk'), { tag: 'tk', count: 14 });
    assert.equal(lwb(['tags']).code, 2);
    assert.match(lwb(['tags', 'frob', SAMPLE_TRAIN]).err, /unknown tags action 'frob'/);
    assert.match(lwb(['tags', 'add', SAMPLE_TRAIN]).err, /needs at least one tag/);
    assert.match(lwb(['tags', 'normalise', SAMPLE_TRAIN]).err, /--spaces or --underscores/);
    assert.equal(lwb(['tags', 'add', path.join(tempDir(t), 'missing'), 'x']).code, 3);
  });
});
