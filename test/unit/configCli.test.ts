import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { LWB_CLI, tempDir } from './helpers';
import { CONFIG_FIXTURES } from './configHelpers';

function lwb(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [LWB_CLI, ...args], { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('lwb check-config', () => {
  it('is listed in the help and has its own help', () => {
    assert.match(lwb(['--help']).out, /check-config <config\.toml>/);
    const h = lwb(['check-config', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /--dataset-config <file>/);
  });
  it('prints file:line:col: severity code: message and exits 0 with only warnings', () => {
    const file = path.join(CONFIG_FIXTURES, 'seed_XL_LoRA_config_file.toml');
    const r = lwb(['check-config', file]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 5);
    assert.equal(lines[0], `${file}:9:33: warning placeholder-path: pretrained_model_name_or_path is still a placeholder ("/本地路径/SDXL模型"): put the real path here.`);
    assert.match(r.err, /^lwb check-config: 0 errors, 4 warnings, 1 note in 1 file\n$/);
  });
  it('exits 1 on errors and prints JSON with --json', (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'bad.toml');
    writeFileSync(file, 'resolution = 1024\nlearning_rate = 1e-4\n');
    const r = lwb(['check-config', file, '--json']);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.out) as { errors: number; files: { kind: string; diagnostics: { code: string; range: { start: { line: number } }; fixes: unknown[] }[] }[] };
    assert.equal(j.errors, 1);
    assert.equal(j.files[0]?.kind, 'training');
    assert.equal(j.files[0]?.diagnostics[0]?.code, 'wrong-type');
    assert.equal(j.files[0]?.diagnostics[0]?.fixes.length, 1);
  });
  it('checks the dataset config given with --dataset-config, and the one the config names', (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, 'img'));
    writeFileSync(path.join(dir, 'img', 'a.png'), '');
    writeFileSync(path.join(dir, 'train.toml'), 'dataset_config = "ds.toml"\ncache_latents = true\nresolution = "1024,1024"\n');
    writeFileSync(path.join(dir, 'ds.toml'), '[[datasets]]\n[[datasets.subsets]]\nimage_dir = "img"\nnum_repeats = 2\ncolor_aug = true\n');
    const followed = lwb(['check-config', 'train.toml'], dir);
    assert.equal(followed.code, 1);
    assert.equal(followed.out, 'ds.toml:5:1: error conflict: color_aug cannot be used because the training config caches latents: sd-scripts stops.\n');
    const explicit = lwb(['check-config', path.join(dir, 'train.toml'), '--dataset-config', path.join(dir, 'ds.toml'), '--base-dir', dir]);
    assert.equal(explicit.code, 1);
    assert.match(explicit.out, /ds\.toml:5:1: error conflict/);
    // a dataset config alone is detected as one
    const alone = lwb(['check-config', path.join(CONFIG_FIXTURES, 'dataset_finetune.toml'), '--base-dir', dir]);
    assert.equal(alone.code, 0);
    assert.match(alone.out, /dataset_finetune\.toml:12:15: warning path-not-found: image_dir/);
  });
  it('exits 3 for unreadable input and 2 for usage errors', (t) => {
    const dir = tempDir(t);
    const missing = lwb(['check-config', path.join(dir, 'nope.toml')]);
    assert.equal(missing.code, 3);
    assert.match(missing.err, /nope\.toml does not exist/);
    assert.equal(lwb(['check-config', dir]).code, 3);
    assert.equal(lwb(['check-config']).code, 2);
    assert.equal(lwb(['check-config', 'a.toml', 'b.toml']).code, 2);
    const kind = lwb(['check-config', 'a.toml', '--kind', 'yaml']);
    assert.equal(kind.code, 2);
    assert.match(kind.err, /--kind must be training, dataset or prompts/);
    assert.equal(lwb(['check-config', '--bogus']).code, 2);
  });
});
