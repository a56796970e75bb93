import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { FsProbe } from '../../src/core/training/command';
import {
  buildSdScriptCommand,
  outputExtension,
  preflightSdScript,
  resolveSdScriptLaunch,
  SD_SCRIPTS,
  SD_SCRIPT_OPTIONS,
  type SdScriptTaskDefinition,
} from '../../src/core/training/sdScripts';
import { tempDir } from './helpers';

function probe(files: string[], dirs: string[] = []): FsProbe {
  const f = new Set(files);
  const d = new Set(dirs);
  return { isFile: (p) => f.has(p), isDirectory: (p) => d.has(p) };
}

const ENV = { sdScriptsDir: '/opt/sd scripts', python: '/opt/sd scripts/venv/bin/python', baseDir: '/home/u/ワーク スペース', platform: 'linux' as const, baseEnv: { PATH: '/usr/bin' } };

describe('sd-scripts dataset task commands', () => {
  it('runs BLIP with the script path, the image folder and typed options as separate arguments', () => {
    const r = buildSdScriptCommand(
      { script: 'finetune/make_captions.py', imageDir: 'dataset/img_train/5_tk girl', options: { beam_search: true, num_beams: 3, top_p: 0.8, max_length: 60, min_length: 10, batch_size: 4, caption_extension: '.caption', recursive: false, debug: true } },
      ENV,
    );
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.equal(r.spec.command, '/opt/sd scripts/venv/bin/python');
    assert.equal(r.spec.cwd, '/opt/sd scripts');
    assert.deepEqual(r.spec.args, [
      '/opt/sd scripts/finetune/make_captions.py',
      '/home/u/ワーク スペース/dataset/img_train/5_tk girl',
      '--beam_search',
      '--num_beams', '3',
      '--top_p', '0.8',
      '--max_length', '60',
      '--min_length', '10',
      '--batch_size', '4',
      '--caption_extension=.caption',
      '--debug',
    ]);
    assert.equal(r.spec.env['PYTHONUNBUFFERED'], '1');
    assert.equal(r.spec.env['PATH'], '/usr/bin');
  });

  it('keeps a hostile value one argument, and a python stand-in receives exactly those arguments', (t) => {
    const dir = tempDir(t);
    const sd = path.join(dir, 'sd scripts 日本');
    mkdirSync(path.join(sd, 'finetune'), { recursive: true });
    writeFileSync(path.join(sd, 'finetune', 'make_captions_by_git.py'), 'import json, os, sys\nprint(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}))\n');
    const images = path.join(dir, 'x; rm -rf ~', '画像 $(whoami)');
    const r = buildSdScriptCommand(
      { script: 'finetune/make_captions_by_git.py', imageDir: images, options: { model_id: 'x; rm -rf ~', remove_words: true, caption_extension: '`touch pwned`' }, args: ['--max_length', '40'] },
      { sdScriptsDir: sd, python: 'python3', platform: 'linux', baseEnv: { PATH: process.env.PATH } },
    );
    assert.ok(r.ok, r.ok ? '' : r.error);
    const out = spawnSync(r.spec.command, r.spec.args, { cwd: r.spec.cwd, env: r.spec.env, encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const got = JSON.parse(out.stdout) as { argv: string[]; cwd: string };
    assert.deepEqual(got.argv, [images, '--model_id=x; rm -rf ~', '--remove_words', '--caption_extension=`touch pwned`', '--max_length', '40']);
    assert.equal(got.cwd, sd);
  });

  it('builds prepare_buckets_latents with its four positionals; a Hugging Face id stays as it is', () => {
    const def: SdScriptTaskDefinition = {
      script: 'finetune/prepare_buckets_latents.py',
      imageDir: '/data/train',
      inJson: 'meta/meta_clean.json',
      outJson: '/data/meta_lat.json',
      model: 'models/sd_xl_base_1.0.safetensors',
      options: { max_resolution: '1024,1024', min_bucket_reso: 256, max_bucket_reso: 2048, bucket_reso_steps: 64, bucket_no_upscale: false, mixed_precision: 'bf16', full_path: true, flip_aug: true, skip_existing: true, batch_size: 4 },
    };
    const r = buildSdScriptCommand(def, ENV);
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.spec.args.slice(0, 5), [
      '/opt/sd scripts/finetune/prepare_buckets_latents.py',
      '/data/train',
      '/home/u/ワーク スペース/meta/meta_clean.json',
      '/data/meta_lat.json',
      '/home/u/ワーク スペース/models/sd_xl_base_1.0.safetensors',
    ]);
    assert.deepEqual(r.spec.args.slice(5), ['--max_resolution=1024,1024', '--min_bucket_reso', '256', '--max_bucket_reso', '2048', '--bucket_reso_steps', '64', '--mixed_precision=bf16', '--full_path', '--flip_aug', '--skip_existing', '--batch_size', '4']);
    const hf = buildSdScriptCommand({ ...def, model: 'stabilityai/stable-diffusion-xl-base-1.0' }, ENV);
    assert.ok(hf.ok);
    assert.equal(hf.spec.args[4], 'stabilityai/stable-diffusion-xl-base-1.0');
    const missing = buildSdScriptCommand({ ...def, model: '' }, ENV);
    assert.ok(!missing.ok);
    assert.match(missing.error, /"model"/);
  });

  it('passes the WD14 options with their sd-scripts names; a separator starting with a dash stays a value', () => {
    const r = buildSdScriptCommand(
      { script: 'finetune/tag_images_by_wd14_tagger.py', imageDir: '/d', options: { onnx: true, repo_id: 'SmilingWolf/wd-vit-tagger-v3', general_threshold: 0.3, character_threshold: 0.85, remove_underscore: true, undesired_tags: 'solo,1girl', always_first_tags: '1girl,1boy', caption_separator: '-- ', use_rating_tags_as_last_tag: true, model_dir: 'models/wd14' } },
      ENV,
    );
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.spec.args.slice(2), [
      '--onnx',
      '--repo_id=SmilingWolf/wd-vit-tagger-v3',
      '--general_threshold', '0.3',
      '--character_threshold', '0.85',
      '--remove_underscore',
      '--undesired_tags=solo,1girl',
      '--always_first_tags=1girl,1boy',
      '--caption_separator=-- ',
      '--use_rating_tags_as_last_tag',
      '--model_dir=/home/u/ワーク スペース/models/wd14',
    ]);
  });

  it('refuses unknown options, wrong types, out-of-range values and options of another script, naming them', () => {
    const base = { script: 'finetune/make_captions.py' as const, imageDir: '/d' };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ beam_serach: true }, /no option "beam_serach"/],
      [{ beam_search: 'yes' }, /"beam_search" is a switch/],
      [{ num_beams: 2.5 }, /whole number/],
      [{ top_p: 1.5 }, /at most 1/],
      [{ batch_size: 0 }, /at least 1/],
      [{ caption_extension: 3 }, /must be a string/],
      [{ model_id: 'microsoft/git-base' }, /no option "model_id"/],
    ];
    for (const [options, re] of cases) {
      const r = buildSdScriptCommand({ ...base, options } as SdScriptTaskDefinition, ENV);
      assert.ok(!r.ok, JSON.stringify(options));
      assert.match(r.error, re);
    }
    const choice = buildSdScriptCommand({ script: 'finetune/prepare_buckets_latents.py', imageDir: '/d', inJson: 'a', outJson: 'b', model: 'c', options: { mixed_precision: 'fp8' } }, ENV);
    assert.ok(!choice.ok);
    assert.match(choice.error, /one of no, fp16, bf16/);
    const script = buildSdScriptCommand({ script: 'finetune/train.py', imageDir: '/d' } as unknown as SdScriptTaskDefinition, ENV);
    assert.ok(!script.ok);
    const noDir = buildSdScriptCommand({ script: 'finetune/make_captions.py', imageDir: ' ' }, ENV);
    assert.ok(!noDir.ok);
    assert.match(noDir.error, /imageDir/);
    const wrongPlace = buildSdScriptCommand({ script: 'finetune/make_captions.py', imageDir: '/d', inJson: 'x.json' }, ENV);
    assert.ok(!wrongPlace.ok);
    const badArgs = buildSdScriptCommand({ script: 'finetune/make_captions.py', imageDir: '/d', args: [1] as unknown as string[] }, ENV);
    assert.ok(!badArgs.ok);
  });

  it('knows the sidecar extension each script writes', () => {
    assert.equal(outputExtension({ script: 'finetune/make_captions.py' }), '.caption');
    assert.equal(outputExtension({ script: 'finetune/make_captions_by_git.py', options: { caption_extension: 'txt' } }), '.txt');
    assert.equal(outputExtension({ script: 'finetune/tag_images_by_wd14_tagger.py' }), '.txt');
    assert.equal(outputExtension({ script: 'finetune/prepare_buckets_latents.py' }), undefined);
    // every script has an option table and shares caption/batch names with sd-scripts
    for (const s of SD_SCRIPTS) assert.ok(SD_SCRIPT_OPTIONS[s]['batch_size']);
  });

  it('finds the venv python from the settings, sets VIRTUAL_ENV, and lets the task env win', () => {
    const fs = probe(['/ws/sd/venv/bin/python', '/ws/sd/finetune/make_captions.py'], ['/ws/sd', '/ws/sd/venv', '/ws/img']);
    const r = resolveSdScriptLaunch({ script: 'finetune/make_captions.py', imageDir: 'img', env: { HF_HOME: '/task' } }, { settings: { sdScriptsFolder: 'sd', env: { HF_HOME: '/settings', A: '1' } }, baseDir: '/ws', baseEnv: { PATH: '/usr/bin' }, fs });
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.equal(r.spec.command, '/ws/sd/venv/bin/python');
    assert.equal(r.spec.env['VIRTUAL_ENV'], '/ws/sd/venv');
    assert.equal(r.spec.env['PATH'], '/ws/sd/venv/bin:/usr/bin');
    assert.equal(r.spec.env['HF_HOME'], '/task');
    assert.equal(r.spec.env['A'], '1');
    const none = resolveSdScriptLaunch({ script: 'finetune/make_captions.py', imageDir: 'img' }, { settings: { sdScriptsFolder: 'sd' }, baseDir: '/ws', fs: probe([], ['/ws/sd']) });
    assert.ok(!none.ok);
    assert.match(none.error, /no Python found/);
    const unset = resolveSdScriptLaunch({ script: 'finetune/make_captions.py', imageDir: 'img' }, { settings: {}, baseDir: '/ws', fs });
    assert.ok(!unset.ok);
    assert.match(unset.error, /sd-scripts folder is not set/);
  });

  it('preflight: says what is missing and what fixes it', () => {
    const def: SdScriptTaskDefinition = { script: 'finetune/make_captions.py', imageDir: 'img' };
    assert.deepEqual(preflightSdScript(def, { settings: {}, baseDir: '/ws', fs: probe([]) }).map((p) => p.fix), ['settings']);
    const noFolder = preflightSdScript(def, { settings: { sdScriptsFolder: '/nope' }, baseDir: '/ws', fs: probe([]) });
    assert.match(noFolder[0]?.message ?? '', /\/nope does not exist/);
    const noPython = preflightSdScript(def, { settings: { sdScriptsFolder: '/sd' }, baseDir: '/ws', fs: probe(['/sd/finetune/make_captions.py'], ['/sd', '/ws/img']) });
    assert.equal(noPython.length, 1);
    assert.match(noPython[0]?.message ?? '', /No Python found/);
    assert.equal(noPython[0]?.fix, 'settings');
    const noScript = preflightSdScript(def, { settings: { sdScriptsFolder: '/sd', python: '/usr/bin/python3' }, baseDir: '/ws', fs: probe(['/usr/bin/python3'], ['/sd', '/ws/img']) });
    assert.deepEqual(noScript.map((p) => p.fix), ['environment']);
    assert.match(noScript[0]?.message ?? '', /finetune\/make_captions\.py is not in the sd-scripts folder/);
    const ok = preflightSdScript(def, { settings: { sdScriptsFolder: '/sd', python: '/usr/bin/python3' }, baseDir: '/ws', fs: probe(['/usr/bin/python3', '/sd/finetune/make_captions.py'], ['/sd', '/ws/img']) });
    assert.deepEqual(ok, []);
    const prep = preflightSdScript({ script: 'finetune/prepare_buckets_latents.py', imageDir: 'none', inJson: 'meta_clean.json', outJson: 'o.json', model: 'm' }, { settings: { sdScriptsFolder: '/sd', python: '/usr/bin/python3' }, baseDir: '/ws', fs: probe(['/usr/bin/python3', '/sd/finetune/prepare_buckets_latents.py'], ['/sd']) });
    assert.equal(prep.length, 2);
    assert.match(prep[0]?.message ?? '', /image folder \/ws\/none does not exist/);
    assert.match(prep[1]?.message ?? '', /meta_clean\.json does not exist/);
  });
});
