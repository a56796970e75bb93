import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { classifyTextFile, looksLikeSamplePrompts, siblingImage } from '../../src/core/dataset/sidecarKind';
import { SAMPLE_TRAIN, tempDir } from './helpers';

describe('which text files are kohya files', () => {
  it('finds the image next to a tag file', async () => {
    assert.equal(await siblingImage(path.join(SAMPLE_TRAIN, '5_tk girl', '1.txt')), path.join(SAMPLE_TRAIN, '5_tk girl', '1.png'));
  });
  it('claims sidecars only where an image sits next to them', async (t) => {
    const dir = tempDir(t);
    writeFileSync(path.join(dir, 'a.JPG'), '');
    const exts = ['.txt', '.caption'];
    assert.equal(await classifyTextFile(path.join(dir, 'a.txt'), 'tk', exts), 'caption');
    assert.equal(await classifyTextFile(path.join(dir, 'a.caption'), 'tk', exts), 'caption');
    assert.equal(await classifyTextFile(path.join(dir, 'notes.txt'), 'tk', exts), undefined);
    // an extension that is not configured as a sidecar is left alone
    assert.equal(await classifyTextFile(path.join(dir, 'a.txt'), 'tk', ['.caption']), undefined);
  });
  it('recognises sd-scripts sample-prompt files', async (t) => {
    const dir = tempDir(t);
    const text = '# prompts\ntk, 1girl, smile --n lowres --w 1024 --h 1024 --d 1\n';
    assert.equal(looksLikeSamplePrompts(text), true);
    assert.equal(looksLikeSamplePrompts('just a note -- with dashes\n'), false);
    assert.equal(await classifyTextFile(path.join(dir, 'sample_prompts.txt'), text, ['.txt']), 'samplePrompts');
    assert.equal(await classifyTextFile(path.join(dir, 'todo.txt'), text, ['.txt']), undefined);
  });
});
