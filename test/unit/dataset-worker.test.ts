import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import type { ImageProbeRequest, ImageProbeWorkerReply } from '../../src/core/dataset/imageProbeProtocol';
import { makePng } from './dataset-fixtures';
import { ROOT, tempDir } from './helpers';

type Esbuild = typeof import('esbuild');

describe('image worker process', () => {
  it('answers an IPC request with metadata, a decode check and a dHash per file', async (t) => {
    const dir = tempDir(t);
    const esbuild = createRequire(path.join(ROOT, 'package.json'))('esbuild') as Esbuild;
    const script = path.join(dir, 'imageProbe.js');
    esbuild.buildSync({
      entryPoints: [path.join(ROOT, 'src/workers/imageProbe.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: script,
      external: ['sharp'],
      logLevel: 'silent',
    });
    const good = path.join(dir, 'good image.png');
    writeFileSync(good, makePng({ width: 18, height: 16, pixel: (x) => x * 14 }));
    const bad = path.join(dir, 'bad.png');
    writeFileSync(bad, 'not a png');
    const reply = await new Promise<ImageProbeWorkerReply>((resolve, reject) => {
      const child = fork(script, [], {
        env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      child.on('message', (m) => resolve(m as ImageProbeWorkerReply));
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`worker exited ${code} without a reply`)));
      const req: ImageProbeRequest = { type: 'imageProbeRequest', files: [good, bad] };
      child.send(req);
    });
    assert.equal(reply.type, 'imageProbe');
    if (reply.type !== 'imageProbe') return;
    const [g, b] = reply.items;
    assert.deepEqual([g?.ok, g?.format, g?.width, g?.height, g?.gray?.length], [true, 'png', 18, 16, 72]);
    // brightness rises to the right in every row: every dHash bit is set
    assert.equal(g?.dhash, 'ffffffffffffffff');
    assert.equal(b?.ok, false);
    assert.ok((b?.error ?? '').length > 0);
  });
});
