/**
 * sd-scripts' dataset scripts as tasks (BLIP, GIT, WD14, prepare_buckets_latents) against a
 * stand-in sd-scripts folder whose finetune/ scripts are test/fixtures/fake-sd-scripts/standin.py
 * run by python3: the commands start the tasks, the sidecar files appear (in the Datasets view's
 * model too), tasks.json entries run, the preflight stops a run that cannot work, and the bucket
 * preview writes train_resolution/image_size as one undoable step.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { LoraWorkbenchApi } from '../../../src/extension';
import type { SdScriptRun } from '../../../src/features/sdScripts';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
/** out/test/vscode/suite → the repository */
const REPO = path.resolve(__dirname, '../../../..');
const STANDIN = path.join(REPO, 'test', 'fixtures', 'fake-sd-scripts', 'standin.py');
const SAMPLE_IMAGES = path.join(REPO, 'sample', 'dataset', 'img_train', '5_tk girl');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SCRIPTS = ['make_captions.py', 'make_captions_by_git.py', 'tag_images_by_wd14_tagger.py', 'prepare_buckets_latents.py'];

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The first line the stand-in prints: the arguments it received. */
function argvOf(file: string): string[] {
  return JSON.parse(readFileSync(file, 'utf8')) as string[];
}

describe('sd-scripts dataset tasks', function () {
  this.timeout(180_000);
  let api: LoraWorkbenchApi;
  let ws: string;
  let sd: string;
  let images: string;
  const c = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('loraWorkbench', vscode.workspace.workspaceFolders?.[0]?.uri);
  const T = vscode.ConfigurationTarget.Workspace;

  before(async () => {
    const ext = vscode.extensions.getExtension<LoraWorkbenchApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.ok(ws);
    assert.ok(existsSync(STANDIN), STANDIN);
    sd = path.join(ws, '.sd-scripts-standin');
    mkdirSync(path.join(sd, 'finetune'), { recursive: true });
    for (const s of SCRIPTS) copyFileSync(STANDIN, path.join(sd, 'finetune', s));
    // three sample images in a folder of their own (the sample's own tag files stay untouched)
    images = path.join(ws, 'sdscripts_test', 'photos 写真');
    mkdirSync(images, { recursive: true });
    for (const n of ['1.png', '2.png', '3.png']) copyFileSync(path.join(SAMPLE_IMAGES, n), path.join(images, n));
    await c().update('training.sdScriptsFolder', '.sd-scripts-standin', T);
    await c().update('training.python', PYTHON, T);
  });

  after(async () => {
    await c().update('training.python', undefined, T);
    rmSync(path.join(ws, 'sdscripts_test'), { recursive: true, force: true });
    rmSync(sd, { recursive: true, force: true });
    rmSync(path.join(ws, '.vscode', 'tasks.json'), { force: true });
  });

  it('"Caption Images with BLIP…" runs make_captions.py in the sd-scripts folder; the .caption files appear in the Datasets view', async () => {
    const run = (await vscode.commands.executeCommand(
      'loraWorkbench.captionWithBlip',
      vscode.Uri.file(images),
      { options: { beam_search: true, num_beams: 3, max_length: 40 }, wait: true },
    )) as SdScriptRun | undefined;
    assert.ok(run, 'the command returned the run');
    assert.equal(run.exitCode, 0);
    assert.equal(run.changedSidecars.length, 3, run.changedSidecars.join(', '));
    for (const n of ['1', '2', '3']) {
      assert.equal(readFileSync(path.join(images, `${n}.caption`), 'utf8'), `a stand-in BLIP caption of ${n}\n`);
    }
    assert.ok(api.sdScripts.runs.includes(run));
    // the Datasets view's model picks the new sidecars up through the file watcher
    await until(() => {
      const folder = api.datasets.current.groups.flatMap((g) => [g, ...g.folders]).find((f) => 'images' in f && f.path === images) as { images?: Array<{ sidecars: Record<string, string> }> } | undefined;
      return folder?.images?.length === 3 && folder.images.every((i) => i.sidecars['.caption']) ? true : undefined;
    }, 'the .caption files in the Datasets model', 60_000);
  });

  it('"Tag Images with sd-scripts\' WD14…" passes --onnx and the tagging settings; a tasks.json GIT task runs with its typed options', async () => {
    await c().update('tagger.generalThreshold', 0.5, T);
    await c().update('tagger.removeUnderscore', true, T);
    try {
      const run = (await vscode.commands.executeCommand('loraWorkbench.tagWithSdScriptsWd14', vscode.Uri.file(images), { wait: true })) as SdScriptRun | undefined;
      assert.ok(run);
      assert.equal(run.exitCode, 0);
      assert.equal(run.definition.options?.['onnx'], true);
      assert.equal(run.definition.options?.['general_threshold'], 0.5);
      assert.equal(run.definition.options?.['remove_underscore'], true);
      assert.equal(readFileSync(path.join(images, '2.txt'), 'utf8'), 'standin_tag, tag_of 2\n');
    } finally {
      await c().update('tagger.generalThreshold', undefined, T);
      await c().update('tagger.removeUnderscore', undefined, T);
    }

    // tasks.json: a GIT task with a relative image folder and typed options
    mkdirSync(path.join(ws, '.vscode'), { recursive: true });
    const argvFile = path.join(ws, 'sdscripts_test', 'git-argv.json');
    writeFileSync(
      path.join(ws, '.vscode', 'tasks.json'),
      JSON.stringify({
        version: '2.0.0',
        tasks: [
          {
            type: 'loraWorkbench.sdScript',
            label: 'GIT captions of the test photos',
            script: 'finetune/make_captions_by_git.py',
            imageDir: 'sdscripts_test/photos 写真',
            options: { caption_extension: '.git.caption', max_length: 30, remove_words: true },
            args: ['--model_id', 'x; rm -rf ~'],
            env: { STANDIN_ARGV: argvFile },
          },
        ],
      }),
    );
    const task = await until(async () => (await vscode.tasks.fetchTasks({ type: 'loraWorkbench.sdScript' })).find((t) => t.name.includes('GIT captions of the test photos')), 'the tasks.json task', 60_000);
    const ended = new Promise<SdScriptRun>((resolve) => {
      const d = api.sdScripts.onDidEndRun((r) => {
        if (r.definition.script === 'finetune/make_captions_by_git.py') {
          d.dispose();
          resolve(r);
        }
      });
    });
    await vscode.tasks.executeTask(task);
    const run = await ended;
    assert.equal(run.exitCode, 0);
    assert.equal(readFileSync(path.join(images, '3.git.caption'), 'utf8'), 'a stand-in GIT caption of 3\n');
    assert.equal(run.changedSidecars.length, 3);
    assert.deepEqual(argvOf(argvFile), [images, '--caption_extension=.git.caption', '--max_length', '30', '--remove_words', '--model_id', 'x; rm -rf ~']);
  });

  it('"Prepare Buckets and Latents…" runs prepare_buckets_latents.py with in_json, out_json, the model and the bucket options', async () => {
    const dir = path.join(ws, 'sdscripts_test');
    const inJson = path.join(dir, 'meta_clean.json');
    writeFileSync(inJson, JSON.stringify({ [path.join(images, '1.png')]: { caption: 'kept' } }));
    const run = (await vscode.commands.executeCommand('loraWorkbench.prepareBucketsLatents', vscode.Uri.file(images), { inJson, model: 'stabilityai/stable-diffusion-xl-base-1.0', wait: true })) as SdScriptRun | undefined;
    assert.ok(run);
    assert.equal(run.exitCode, 0);
    assert.equal(run.definition.outJson, path.join(dir, 'meta_lat.json'));
    assert.equal(run.definition.options?.['full_path'], true);
    assert.match(String(run.definition.options?.['max_resolution']), /^\d+,\d+$/);
    const out = JSON.parse(readFileSync(path.join(dir, 'meta_lat.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(out[path.join(images, '1.png')], { caption: 'kept', train_resolution: [1024, 1024] });
    assert.equal(Object.keys(out).length, 3);
  });

  it('a failing script is reported with its exit code; the preflight stops a task whose script is missing', async () => {
    const failed = (await vscode.commands.executeCommand('loraWorkbench.captionWithBlip', vscode.Uri.file(images), { options: { seed: 13 }, wait: true })) as SdScriptRun | undefined;
    assert.ok(failed);
    assert.equal(failed.exitCode, 13);

    rmSync(path.join(sd, 'finetune', 'make_captions.py'));
    try {
      const problems = api.sdScripts.preflight({ script: 'finetune/make_captions.py', imageDir: images });
      assert.equal(problems.length, 1);
      assert.match(problems[0]?.message ?? '', /finetune\/make_captions\.py is not in the sd-scripts folder/);
      assert.equal(problems[0]?.fix, 'environment');
      const before = api.sdScripts.runs.length;
      const r = await vscode.commands.executeCommand('loraWorkbench.captionWithBlip', vscode.Uri.file(images), { wait: true });
      assert.equal(r, undefined, 'nothing was started');
      assert.equal(api.sdScripts.runs.length, before);
      // without an sd-scripts folder the message points at the setting
      await c().update('training.sdScriptsFolder', '', T);
      const unset = api.sdScripts.preflight({ script: 'finetune/make_captions.py', imageDir: images });
      assert.equal(unset[0]?.fix, 'settings');
      assert.match(unset[0]?.message ?? '', /sd-scripts folder is not set/);
    } finally {
      await c().update('training.sdScriptsFolder', '.sd-scripts-standin', T);
      copyFileSync(STANDIN, path.join(sd, 'finetune', 'make_captions.py'));
    }
  });

  it('"Preview Buckets into Metadata…" writes train_resolution and image_size from the sidecars as one undoable step', async () => {
    const output = path.join(ws, 'sdscripts_test', 'preview_lat.json');
    const summary = (await vscode.commands.executeCommand('loraWorkbench.previewBucketsIntoMetadata', vscode.Uri.file(images), { inJson: null, output, resolution: [1024, 1024], minBucketReso: 256, maxBucketReso: 1024, bucketResoSteps: 64, noUpscale: false })) as
      | { output: string; images: number; buckets: Array<{ reso: [number, number]; count: number }>; journalBatch: string | null }
      | undefined;
    assert.ok(summary);
    assert.equal(summary.images, 3);
    // the sample images are 512×704 (aspect 0.727): the nearest bucket of 1024² / 256–1024 / 64 is 768×1024
    assert.deepEqual(summary.buckets, [{ reso: [768, 1024], count: 3 }]);
    const m = JSON.parse(readFileSync(output, 'utf8')) as Record<string, Record<string, unknown>>;
    const first = m[path.join(images, '1.png')];
    assert.deepEqual(first?.['train_resolution'], [768, 1024]);
    assert.deepEqual(first?.['image_size'], [512, 704]);
    assert.equal(first?.['caption'], 'a stand-in BLIP caption of 1');
    assert.equal(first?.['tags'], 'standin_tag, tag_of 1');
    assert.ok(summary.journalBatch);
    await vscode.commands.executeCommand('loraWorkbench.undoTagBatch');
    await until(() => (existsSync(output) ? undefined : true), 'the undo to remove the preview file', 15_000);
  });
});
