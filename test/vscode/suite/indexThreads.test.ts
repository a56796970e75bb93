/**
 * The dataset index's header reads on worker threads (used for cold builds of 20,000+ images)
 * inside the real extension host: the threads start there and give the same records as the
 * synchronous reads. Works in a temporary folder outside the workspace.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import { DatasetIndex } from '../../../src/core/dataset/index';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  let c = 0xffffffff;
  for (const b of body) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return Buffer.concat([len, body, crc]);
}
function png(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  const raw = Buffer.alloc((width + 1) * height);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

describe('dataset index on worker threads', function () {
  this.timeout(60_000);
  let root = '';
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'lwb-threads-'));
    const dir = path.join(root, '2_cat');
    mkdirSync(dir);
    for (let i = 0; i < 120; i++) {
      writeFileSync(path.join(dir, `${i}.png`), png(10 + i, 7));
      if (i % 2) writeFileSync(path.join(dir, `${i}.txt`), `cat, tag ${i}`);
    }
    writeFileSync(path.join(dir, 'empty.png'), '');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reads sizes, dimensions and tags on threads in the extension host, as the synchronous reads do', async () => {
    const threads = await DatasetIndex.build(root, { depth: 1, io: 'threads', tagExtension: '.txt' });
    const sliced = await DatasetIndex.build(root, { depth: 1, io: 'sliced', tagExtension: '.txt' });
    assert.equal(threads.imageCount, 121);
    for (const img of sliced.allImages()) {
      const t = threads.image(img.path);
      assert.deepEqual([t?.width, t?.height, t?.size, t?.tags, t?.header.problems.map((p) => p.code)], [img.width, img.height, img.size, img.tags, img.header.problems.map((p) => p.code)], img.name);
    }
    assert.deepEqual(threads.image(path.join(root, '2_cat', '7.png'))?.tags, ['cat', 'tag 7']);
    assert.equal(threads.image(path.join(root, '2_cat', '7.png'))?.width, 17);
  });
});
