import { describe, it, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildTaggerWorker, WORKER_ENV, writeTinyModelFolder, loadSharp } from '../fixtures/tiny-wd14/harness';
import { LWB_CLI } from './helpers';

const sharp = loadSharp();
let work: string;
let worker: string;
let model: string;

function lwb(...args: string[]) {
  const r = spawnSync(process.execPath, [LWB_CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...WORKER_ENV, LWB_TAGGER_WORKER: worker } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'lwb-tag-cli-'));
  worker = await buildTaggerWorker(work);
  model = writeTinyModelFolder(path.join(work, 'model'), 64);
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('lwb tag', () => {
  it('tags a kohya concept folder with sd-scripts option names, and prints JSON', async () => {
    const dir = path.join(work, 'img', '5_tk girl');
    mkdirSync(dir, { recursive: true });
    await sharp({ create: { width: 80, height: 80, channels: 3, background: '#ff0000' } }).png().toFile(path.join(dir, 'r.png'));
    await sharp({ create: { width: 80, height: 80, channels: 3, background: '#0000ff' } }).png().toFile(path.join(dir, 'b.png'));
    const r = lwb('tag', path.join(work, 'img'), '--recursive', '--model', model, '--remove_underscore', '--undesired_tags', 'simple background', '--use_rating_tags_as_last_tag', '--caption_extension', '.caption', '--frequency_tags');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^tagged 2 images in [\d.]+ s/m);
    assert.match(r.out, /^Tag frequencies:\n/m);
    assert.match(r.out, /^\^_\^: 2$/m);
    assert.match(r.err, /64×64/);
    assert.equal(readFileSync(path.join(dir, 'r.caption'), 'utf8'), 'red theme, ^_^, kirisame marisa, general\n');
    assert.equal(readFileSync(path.join(dir, 'b.caption'), 'utf8'), 'blue theme, ^_^, kirisame marisa, sensitive\n');
    const j = lwb('tag', path.join(dir, 'r.png'), '--model', model, '--dry-run', '--json', '--thresh', '0.95');
    assert.equal(j.code, 0, j.err);
    const parsed = JSON.parse(j.out) as { tagged: { tags: string[]; written: boolean }[]; model: { size: number } };
    assert.deepEqual(parsed.tagged[0]?.tags, ['red_theme']);
    assert.equal(parsed.tagged[0]?.written, false);
    assert.equal(parsed.model.size, 64);
    assert.ok(!existsSync(path.join(dir, 'r.txt')));
  });
  it('exits 2 on usage errors and 3 when the model or the images are missing, before touching files', () => {
    assert.equal(lwb('tag', work).code, 2);
    assert.match(lwb('tag', work, '--model', model, '--thresh', 'x').err, /--thresh takes a number/);
    assert.equal(lwb('tag', work, '--model', model, '--provider', 'tpu').code, 2);
    assert.match(lwb('--help').out, /tag <path> --model <folder>/);
    assert.match(lwb('tag', '--help').out, /--always_first_tags/);
    const missing = lwb('tag', path.join(work, 'nothing-here'), '--model', model);
    assert.equal(missing.code, 3);
    const dir = path.join(work, 'keep');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'a.txt'), 'mine\n');
    writeFileSync(path.join(dir, 'a.png'), 'whatever');
    const noModel = lwb('tag', dir, '--model', path.join(work, 'no-model'));
    assert.equal(noModel.code, 3);
    assert.match(noModel.err, /model folder .* does not exist/);
    assert.equal(readFileSync(path.join(dir, 'a.txt'), 'utf8'), 'mine\n');
  });
  it('exits 1 and lists images that cannot be decoded', () => {
    const dir = path.join(work, 'bad');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'x.png'), 'not png');
    const r = lwb('tag', dir, '--model', model);
    assert.equal(r.code, 1);
    assert.match(r.err, /x\.png: cannot be decoded/);
    assert.ok(!existsSync(path.join(dir, 'x.txt')));
  });
});

describe('lwb merge-metadata', () => {
  it('writes meta_clean.json with full-path keys and checks the keys of an old stem-keyed file', () => {
    const dir = path.join(work, 'meta');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, '1.png'), '');
    writeFileSync(path.join(dir, '1.txt'), 'tk, 1girl\n');
    writeFileSync(path.join(dir, '1.caption'), 'a girl\n');
    const out = path.join(work, 'meta_clean.json');
    const r = lwb('merge-metadata', dir, out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /wrote .*meta_clean\.json: 1 entries/);
    const key = path.join(dir, '1.png');
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { [key]: { caption: 'a girl', tags: 'tk, 1girl' } });
    assert.equal(lwb('merge-metadata', '--check', dir, out).code, 0);
    const old = path.join(work, 'meta_old.json');
    const s = lwb('merge-metadata', dir, old, '--stem-keys');
    assert.equal(s.code, 0);
    assert.match(s.err, /bare file stems/);
    const check = lwb('merge-metadata', '--check', dir, old);
    assert.equal(check.code, 1);
    assert.match(check.out, /"1" is a bare stem/);
    assert.equal(lwb('merge-metadata', dir).code, 2);
    assert.equal(lwb('merge-metadata', path.join(work, 'none'), out).code, 3);
    writeFileSync(path.join(work, 'broken.json'), '{');
    assert.equal(lwb('merge-metadata', dir, path.join(work, 'broken.json')).code, 3);
    assert.equal(readFileSync(path.join(work, 'broken.json'), 'utf8'), '{');
  });
});
