/**
 * WD14 auto-tagging inside VS Code, with the tiny WD14-shaped model of test/fixtures/tiny-wd14
 * (copied to a temporary folder) on solid-colour images whose tags are known exactly:
 * the commands run with options that skip their questions.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as vscode from 'vscode';
import type { AutoTagSummary } from '../../../src/features/autoTag/autoTag';
import type { MergeMetadataSummary } from '../../../src/features/autoTag/metadata';
import { readTaggerSettings } from '../../../src/features/autoTag/settings';
import { suggestTags, type Suggestions } from '../../../src/features/autoTag/suggest';
import type { UndoResult } from '../../../src/core/captions/journal';

const EXTENSION_ID = 'lora-workbench.lora-workbench';
const metrics = (globalThis as { __lwbMetrics?: Record<string, number | string> }).__lwbMetrics ?? {};
// this bundle runs from out/test/vscode/suite
const REPO = path.resolve(__dirname, '..', '..', '..', '..');

// 4×4 PNGs of one colour (the tiny model's scores follow the mean colour)
const PNG = {
  red: 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEUlEQVQImWP4z8AARwgWXg4ArpMP8bh5W0YAAAAASUVORK5CYII=',
  green: 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAD0lEQVQImWNg+M+AQMRxAJ6jD/HnSNDJAAAAAElFTkSuQmCC',
  blue: 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEElEQVQImWNgYPiPhIjiAACOsw/xX0IioQAAAABJRU5ErkJggg==',
};
// what the tiny model writes with sd-scripts' defaults (thresholds 0.35, underscores kept, no rating)
const EXPECTED = {
  red: 'red_theme, ^_^, simple_background, kirisame_marisa\n',
  green: 'green_theme, ^_^, simple_background, hatsune_miku_(vocaloid), kirisame_marisa\n',
  blue: 'blue_theme, ^_^, simple_background, kirisame_marisa\n',
};

let work: string;
let model: string;
let images: string;

const read = (name: string): string | undefined => {
  const f = path.join(images, name);
  return existsSync(f) ? readFileSync(f, 'utf8') : undefined;
};

function autoTag(options: Record<string, unknown> = {}): Thenable<AutoTagSummary> {
  return vscode.commands.executeCommand<AutoTagSummary>('loraWorkbench.autoTag', vscode.Uri.file(images), { modelFolder: model, ...options });
}

describe('WD14 auto-tagging', () => {
  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    work = mkdtempSync(path.join(tmpdir(), 'lwb-autotag-'));
    model = path.join(work, 'model');
    cpSync(path.join(REPO, 'test', 'fixtures', 'tiny-wd14', 'model'), model, { recursive: true });
    images = path.join(work, 'dataset', '3_colours');
    mkdirSync(images, { recursive: true });
    for (const [name, b64] of Object.entries(PNG)) writeFileSync(path.join(images, `${name}.png`), Buffer.from(b64, 'base64'));
    writeFileSync(path.join(images, 'broken.png'), 'this is not a PNG');
    writeFileSync(path.join(images, 'red.txt'), 'old tags, kept by undo\n');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('tags a folder: the tag files hold the tiny model\'s tags, a corrupt image is named', async () => {
    const started = performance.now();
    const s = await autoTag();
    metrics.autoTagMs = Math.round(performance.now() - started);
    assert.equal(s.ok, true, s.error);
    assert.equal(s.tagged, 3);
    assert.equal(s.failed.length, 1);
    assert.equal(path.basename(s.failed[0]?.image ?? ''), 'broken.png');
    assert.ok((s.failed[0]?.error ?? '').length > 0);
    assert.ok(s.journalBatch, 'the run is one journal batch');
    assert.equal(read('red.txt'), EXPECTED.red);
    assert.equal(read('green.txt'), EXPECTED.green);
    assert.equal(read('blue.txt'), EXPECTED.blue);
    assert.equal(read('broken.txt'), undefined);
  });

  it('undoes the whole run in one step', async () => {
    const r = await vscode.commands.executeCommand<UndoResult>('loraWorkbench.undoTagBatch');
    assert.equal(r.ok, true, r.message);
    assert.equal(r.restored.length, 3);
    assert.equal(read('red.txt'), 'old tags, kept by undo\n');
    assert.equal(read('green.txt'), undefined);
    assert.equal(read('blue.txt'), undefined);
  });

  it('refuses to undo over a file changed since, and names it', async () => {
    const s = await autoTag();
    assert.equal(s.tagged, 3);
    writeFileSync(path.join(images, 'green.txt'), 'edited by hand\n');
    const refused = await vscode.commands.executeCommand<UndoResult>('loraWorkbench.undoTagBatch');
    assert.equal(refused.ok, false);
    assert.deepEqual(refused.conflicts.map((c) => path.basename(c.file)), ['green.txt']);
    assert.equal(read('red.txt'), EXPECTED.red, 'nothing was restored');
    // put the file back as the run left it: now the undo goes through
    writeFileSync(path.join(images, 'green.txt'), EXPECTED.green);
    const r = await vscode.commands.executeCommand<UndoResult>('loraWorkbench.undoTagBatch');
    assert.equal(r.ok, true, r.message);
    assert.equal(read('red.txt'), 'old tags, kept by undo\n');
  });

  it('skips images that have tags, and applies the sd-scripts options', async () => {
    const s = await autoTag({ skipExisting: true, options: { remove_underscore: true, use_rating_tags: true, undesired_tags: 'kirisame marisa' } });
    assert.equal(s.ok, true, s.error);
    assert.equal(s.skipped, 1);
    assert.equal(s.tagged, 2);
    assert.equal(read('red.txt'), 'old tags, kept by undo\n');
    // as in sd-scripts, undesired tags are compared after remove_underscore; it turns hatsune_miku_(vocaloid) into "hatsune miku (vocaloid)"; ^_^ is too short to change
    assert.equal(read('green.txt'), 'questionable, green theme, ^_^, simple background, hatsune miku (vocaloid)\n');
    assert.equal(read('blue.txt'), 'sensitive, blue theme, ^_^, simple background\n');
    const r = await vscode.commands.executeCommand<UndoResult>('loraWorkbench.undoTagBatch');
    assert.equal(r.ok, true, r.message);
  });

  it('stops with a clear message before touching anything when the model folder is wrong', async () => {
    const empty = path.join(work, 'not-a-model');
    mkdirSync(empty, { recursive: true });
    const s = await autoTag({ modelFolder: empty });
    assert.equal(s.ok, false);
    assert.match(s.error ?? '', /has no model\.onnx and no selected_tags\.csv/);
    assert.equal(s.tagged, 0);
    assert.equal(read('green.txt'), undefined);
  });

  it('cancels: the images tagged until then are written as one undoable batch', async () => {
    const many = path.join(work, 'many');
    mkdirSync(many, { recursive: true });
    for (let i = 0; i < 60; i++) writeFileSync(path.join(many, `${String(i).padStart(2, '0')}.png`), Buffer.from(PNG.blue, 'base64'));
    const ac = new AbortController();
    const s = await vscode.commands.executeCommand<AutoTagSummary>('loraWorkbench.autoTag', vscode.Uri.file(many), {
      modelFolder: model,
      signal: ac.signal,
      onProgress: () => ac.abort(),
    });
    assert.equal(s.cancelled, true);
    assert.ok(s.tagged >= 1 && s.tagged < 60, `${s.tagged} tagged before the cancel took effect`);
    const written = s.result?.tagged.map((x) => x.captionFile) ?? [];
    for (const f of written) assert.equal(readFileSync(f, 'utf8'), EXPECTED.blue);
    const r = await vscode.commands.executeCommand<UndoResult>('loraWorkbench.undoTagBatch');
    assert.equal(r.ok, true, r.message);
    assert.equal(r.restored.length, s.tagged);
    assert.ok(written.every((f) => !existsSync(f)));
    metrics.autoTagCancelledAfter = s.tagged;
  });

  it('says clearly when CUDA cannot be used, and touches nothing', async () => {
    const s = await autoTag({ provider: 'cuda' });
    assert.equal(s.ok, false);
    assert.match(s.error ?? '', /CUDA was chosen but onnxruntime-node cannot use it here/);
    assert.equal(s.tagged, 0);
    assert.equal(read('green.txt'), undefined);
  });

  it('suggests scored tags for one image (dry run), marking the ones in the tag file', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const worker = vscode.Uri.joinPath(ext.extensionUri, 'dist', 'workers', 'tagger.js').fsPath;
    writeFileSync(path.join(images, 'red.txt'), 'red theme,my own tag\n');
    const image = path.join(images, 'red.png');
    const s = await suggestTags(image, readTaggerSettings(undefined, { modelFolder: model }), worker);
    assert.equal(s.error, undefined);
    // every general and character tag of the tiny model, best first, with its score
    assert.equal(s.tags.length, 8);
    const byTag = new Map(s.tags.map((t) => [t.tag, t]));
    assert.ok((byTag.get('red_theme')?.score ?? 0) > 0.99);
    assert.ok(Math.abs((byTag.get('solo')?.score ?? 0) - 0.2) < 0.01);
    assert.equal(s.tags[0]?.tag, 'red_theme');
    assert.deepEqual(s.tags.filter((t) => t.present).map((t) => t.tag), ['red_theme'], 'red theme is red_theme written with a space');
    assert.equal(read('red.txt'), 'red theme,my own tag\n', 'a dry run writes nothing');
  });

  it('writes the accepted suggestions into an open tag file, keeping its formatting', async () => {
    const txt = vscode.Uri.file(path.join(images, 'red.txt'));
    const doc = await vscode.workspace.openTextDocument(txt);
    assert.equal(doc.getText(), 'red theme,my own tag\n');
    // from the palette with the tag file in the active editor: the image is the one next to it
    await vscode.window.showTextDocument(doc);
    const s = await vscode.commands.executeCommand<Suggestions & { changed: boolean }>('loraWorkbench.suggestTags', undefined, {
      modelFolder: model,
      accept: ['solo', 'kirisame_marisa'],
    });
    assert.equal(s.image, path.join(images, 'red.png'));
    assert.equal(s.changed, true);
    // red theme was not accepted: removed; the user's own tag stays; the new ones follow in the file's style
    assert.equal(doc.getText(), 'my own tag,solo,kirisame_marisa\n');
    assert.equal(doc.isDirty, false, 'saved, since it had no unsaved edits');
    assert.equal(read('red.txt'), 'my own tag,solo,kirisame_marisa\n');
    // one editor undo takes the whole suggestion back
    await vscode.commands.executeCommand('undo');
    assert.equal(doc.getText(), 'red theme,my own tag\n');
    await doc.save();
  });

  it('merges captions and tags into meta_clean.json with full-path keys', async () => {
    writeFileSync(path.join(images, 'red.caption'), 'a red square\n');
    const out = path.join(work, 'meta_clean.json');
    const s = await vscode.commands.executeCommand<MergeMetadataSummary>('loraWorkbench.mergeMetadata', vscode.Uri.file(images), { output: out });
    assert.ok(s);
    assert.equal(s.images, 4);
    assert.equal(s.captions, 1);
    const json = JSON.parse(readFileSync(out, 'utf8')) as Record<string, { caption?: string; tags?: string }>;
    const red = path.join(images, 'red.png');
    assert.deepEqual(Object.keys(json).sort(), ['blue', 'broken', 'green', 'red'].map((n) => path.join(images, `${n}.png`)).sort());
    assert.deepEqual(json[red], { caption: 'a red square', tags: 'red theme,my own tag' });
    assert.deepEqual(s.keyProblems, []);
    // bare-stem keys (sd-scripts without --full_path) are written only when asked, with the warning
    const bare = await vscode.commands.executeCommand<MergeMetadataSummary>('loraWorkbench.mergeMetadata', vscode.Uri.file(images), {
      output: path.join(work, 'meta_bare.json'),
      fullPath: false,
    });
    assert.ok(bare.warnings.some((w) => /bare file stems/.test(w)), bare.warnings.join('\n'));
    assert.ok(bare.keyProblems.some((p) => /bare stem/.test(p)));
  });
});
