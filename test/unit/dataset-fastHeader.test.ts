// The one-pass header reader for the common PNG, JPEG and WebP (fastHeader.ts) against the full
// generator parsers: wherever it claims a file it must give exactly their facts, on whole files,
// on first reads of every length, and on damaged bytes; and it must claim the common clean files.
import { describe, it, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { crcTable, exifOrientation, fastImageFacts, FACT_SLOTS } from '../../src/core/dataset/fastHeader';
import { headerFromFacts, headerFromFirstRead, parseImageHeader, parseImageHeaderFull } from '../../src/core/dataset/imageHeader';
import { loadSharp, makeBmp, makeGif, makePng, makeWebpHeader, rawPicture } from './dataset-fixtures';
import { ROOT, tempDir } from './helpers';

const CRC = crcTable();

/** What the fast reader says about the first `got` bytes of `file`, or undefined when it leaves the file. */
function fast(file: Uint8Array, got: number, checkEnd: boolean): ReturnType<typeof headerFromFacts> | undefined {
  const out = new Float64Array(FACT_SLOTS + 3).fill(-7);
  if (!fastImageFacts(file.subarray(0, got), got, file.length, checkEnd, CRC, exifOrientation, out, 3)) return undefined;
  assert.equal(out[0], -7, 'writes only its own slots');
  return headerFromFacts(out, 3, file.length, undefined);
}

/** Checks every first-read length (and both end checks) of `file`; returns the lengths claimed. */
function holdsToFullParser(name: string, file: Uint8Array): number[] {
  const claimed: number[] = [];
  const lengths = new Set<number>();
  for (let n = 0; n <= Math.min(file.length, 400); n++) lengths.add(n);
  for (const n of [512, 1024, 2048, 4096, file.length - 1, file.length]) if (n >= 0 && n <= file.length) lengths.add(n);
  for (const checkEnd of [false, true]) {
    const full = parseImageHeaderFull(file, file.length, checkEnd);
    for (const n of lengths) {
      const h = fast(file, n, checkEnd);
      if (!h) continue;
      claimed.push(n);
      // the full parser on the whole file (it reads further where the fast one had all it needed)
      assert.deepEqual(h, full, `${name}: first ${n} bytes, checkEnd ${checkEnd}`);
      assert.deepEqual(JSON.stringify(h), JSON.stringify(full), `${name}: the same property order`);
    }
  }
  return claimed;
}

/** A JPEG with an Adobe APP14 segment (transform byte) right after SOI. */
function withAdobe(jpeg: Buffer, transform: number): Buffer {
  const seg = Buffer.alloc(16);
  seg[0] = 0xff;
  seg[1] = 0xee;
  seg.writeUInt16BE(14, 2);
  seg.write('Adobe', 4, 'latin1');
  seg[15] = transform;
  return Buffer.concat([jpeg.subarray(0, 2), seg, jpeg.subarray(2)]);
}

describe('one-pass image headers', () => {
  const files: Array<[string, Buffer]> = [];
  before(async () => {
    const sharp = loadSharp();
    const pic = rawPicture(40, 24, 3);
    const img = () => sharp(pic.data, { raw: pic.info });
    files.push(
      ['png rgb', makePng({ width: 33, height: 17 })],
      ['png rgba', makePng({ width: 4, height: 4, colorType: 6 })],
      ['png gray 16', makePng({ width: 4, height: 4, colorType: 0, depth: 16 })],
      ['png gray alpha', makePng({ width: 5, height: 3, colorType: 4 })],
      ['png palette tRNS', makePng({ width: 6, height: 2, colorType: 3, tRNS: true })],
      ['apng eXIf', makePng({ width: 8, height: 8, frames: 3, orientation: 6 })],
      ['png one frame', makePng({ width: 8, height: 8, frames: 1 })],
      ['png text 3000', makePng({ width: 8, height: 9, textBytes: 3000 })],
      ['png text 9000', makePng({ width: 8, height: 9, textBytes: 9000 })],
      ['sharp png', await img().png().toBuffer()],
      ['sharp png palette', await img().ensureAlpha(0.5).png({ palette: true }).toBuffer()],
      ['sharp jpeg', await img().jpeg({ quality: 80 }).toBuffer()],
      ['sharp jpeg progressive', await img().jpeg({ progressive: true }).toBuffer()],
      ['sharp jpeg gray', await img().toColourspace('b-w').jpeg().toBuffer()],
      ['sharp jpeg cmyk', await img().toColourspace('cmyk').jpeg().toBuffer()],
      ['sharp jpeg exif 6', await img().jpeg().withMetadata({ orientation: 6 }).toBuffer()],
      ['sharp jpeg exif 3', await img().jpeg().withExif({ IFD0: { Make: 'x'.repeat(5000) } }).withMetadata({ orientation: 3 }).toBuffer()],
      ['sharp webp lossy', await img().webp({ quality: 70 }).toBuffer()],
      ['sharp webp lossless', await img().webp({ lossless: true }).toBuffer()],
      ['sharp webp alpha', await img().ensureAlpha(0.5).webp().toBuffer()],
      ['sharp webp exif', await img().webp().withMetadata({ orientation: 8 }).toBuffer()],
      ['webp vp8x animated', makeWebpHeader('VP8X', 300, 200, { animated: true, alpha: true })],
      ['webp vp8l', makeWebpHeader('VP8L', 300, 200, { alpha: true })],
      ['bmp', makeBmp(30, 20)],
      ['gif', makeGif(10, 10, 2)],
    );
    const jpeg = files.find(([n]) => n === 'sharp jpeg')?.[1] as Buffer;
    files.push(['jpeg adobe 0', withAdobe(jpeg, 0)], ['jpeg adobe 1', withAdobe(jpeg, 1)]);
    // libjpeg writes an Adobe segment (transform 0) into a CMYK JPEG: set it to YCCK
    const ycck = Buffer.from(files.find(([n]) => n === 'sharp jpeg cmyk')?.[1] as Buffer);
    const adobe = ycck.indexOf('Adobe', 0, 'latin1');
    assert.ok(adobe > 0);
    ycck[adobe + 11] = 2;
    files.push(['cmyk adobe 2', ycck]);
  });

  it('gives exactly the full parser facts for every first-read length it claims', () => {
    for (const [name, file] of files) holdsToFullParser(name, file);
  });

  it('claims the common clean PNG, JPEG and WebP from a 4 KB first read, and leaves the rest to the full parser', () => {
    const claimedAt4k = files.filter(([, f]) => fast(f, Math.min(f.length, 4096), false)).map(([n]) => n);
    assert.deepEqual(claimedAt4k.sort(), [
      'apng eXIf',
      'cmyk adobe 2',
      'jpeg adobe 0',
      'jpeg adobe 1',
      'png gray 16',
      'png gray alpha',
      'png one frame',
      'png palette tRNS',
      'png rgb',
      'png rgba',
      'png text 3000',
      'sharp jpeg',
      'sharp jpeg cmyk',
      'sharp jpeg exif 6',
      'sharp jpeg gray',
      'sharp jpeg progressive',
      'sharp png',
      'sharp png palette',
      'sharp webp alpha',
      'sharp webp lossless',
      'sharp webp lossy',
      'webp vp8x animated',
    ]);
    // left to the full parser: a 5000-byte EXIF block before the frame header, a WebP with EXIF,
    // a PNG whose IDAT comes after the first read, a 26-byte lossless WebP header, BMP and GIF
    // what it found, so the comparison above is not between two empty answers
    const h = (n: string) => {
      const f = files.find(([m]) => m === n)?.[1] as Buffer;
      return fast(f, Math.min(f.length, 4096), false);
    };
    assert.deepEqual([h('apng eXIf')?.frames, h('apng eXIf')?.animated, h('apng eXIf')?.orientation], [3, true, 6]);
    assert.deepEqual([h('sharp jpeg exif 6')?.orientation, h('sharp jpeg exif 6')?.width, h('sharp jpeg exif 6')?.height], [6, 40, 24]);
    assert.deepEqual(
      ['cmyk adobe 2', 'sharp jpeg cmyk', 'jpeg adobe 0', 'jpeg adobe 1', 'sharp jpeg gray'].map((n) => h(n)?.colorModel),
      ['ycck', 'cmyk', 'rgb', 'ycbcr', 'gray'],
    );
    assert.deepEqual([h('webp vp8x animated')?.animated, h('webp vp8x animated')?.hasAlpha, h('webp vp8x animated')?.width], [true, true, 300]);
    assert.equal(h('png palette tRNS')?.hasAlpha, true);
  });

  it('gives the full parser facts on damaged bytes, or leaves them to it', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let claims = 0;
    let tries = 0;
    for (const [name, file] of files) {
      for (let k = 0; k < 150; k++) {
        const bad = Buffer.from(file);
        const flips = 1 + rand(3);
        for (let f = 0; f < flips; f++) {
          const at = rand(Math.min(bad.length, 200));
          bad[at] = (bad[at] as number) ^ (1 << rand(8));
        }
        const cut = rand(4) === 0 ? rand(bad.length + 1) : bad.length;
        const b = bad.subarray(0, cut);
        for (const checkEnd of [false, true]) {
          tries++;
          const h = fast(b, b.length, checkEnd);
          if (!h) continue;
          claims++;
          assert.deepEqual(h, parseImageHeaderFull(b, b.length, checkEnd), `${name} damaged (#${k}, checkEnd ${checkEnd})`);
        }
      }
    }
    // many damaged files still parse (a flipped pixel byte); the rest were left to the full parser
    assert.ok(claims > 0 && claims < tries, `${claims} of ${tries}`);
  });

  it('is what parseImageHeader and headerFromFirstRead answer', (t) => {
    const dir = tempDir(t);
    for (const [name, file] of files) {
      assert.deepEqual(parseImageHeader(file), parseImageHeaderFull(file), name);
      const p = path.join(dir, `${name}.bin`);
      writeFileSync(p, file);
      const first = file.subarray(0, 4096);
      const stat = file.length >= 4096 ? { size: file.length, mtimeMs: 5, isFile: () => true } : undefined;
      const viaFirst = headerFromFirstRead(p, first, stat, { checkEnd: false });
      const slow = parseImageHeaderFull(file, file.length, false);
      assert.deepEqual(viaFirst, stat ? { ...slow, mtimeMs: 5 } : slow, name);
    }
  });

  it('runs from its source text on reader threads, also in a minified bundle', (t) => {
    const dir = tempDir(t);
    const names: string[] = [];
    for (const [name, file] of files) {
      const n = `${name.replace(/ /g, '_')}.img`;
      writeFileSync(path.join(dir, n), file);
      names.push(n);
    }
    const entry = path.join(dir, 'entry.ts');
    const src = (m: string) => JSON.stringify(path.join(ROOT, 'src/core/dataset', m));
    writeFileSync(
      entry,
      `import { readFirstBytesThreaded } from ${src('headerThreads')};
       import { headerFromFirstRead } from ${src('imageHeader')};
       const dir = process.argv[2]; const names = JSON.parse(process.argv[3]);
       const fs = require('node:fs');
       const out = {};
       readFirstBytesThreaded(names.map((n) => dir + '/' + n), { firstRead: 4096, threads: 2, batch: 4, parse: { checkEnd: false } }, (i, r) => {
         out[names[i]] = { threads: r.header ?? null, main: headerFromFirstRead(dir + '/' + names[i], fs.readFileSync(dir + '/' + names[i]).subarray(0, 4096), r.stat, { checkEnd: false }) };
       }).then((r) => console.log(JSON.stringify({ out, unreported: r.unreported })));`,
    );
    const esbuild = createRequire(path.join(ROOT, 'package.json'))('esbuild') as typeof import('esbuild');
    esbuild.buildSync({ entryPoints: [entry], bundle: true, minify: true, platform: 'node', target: 'node20', outfile: path.join(dir, 'entry.js'), logLevel: 'error' });
    const r = spawnSync(process.execPath, [path.join(dir, 'entry.js'), dir, JSON.stringify(names)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { out, unreported } = JSON.parse(r.stdout) as { out: Record<string, { threads: unknown; main: { mtimeMs?: number } }>; unreported: number[] };
    assert.deepEqual(unreported, []);
    let parsedOnThreads = 0;
    for (const n of names) {
      const got = out[n];
      assert.ok(got, n);
      if (got.threads === null) continue;
      parsedOnThreads++;
      // the main thread's answer from the same bytes and stats would have been the same
      assert.deepEqual(got.threads, got.main, n);
    }
    assert.ok(parsedOnThreads >= 20, `${parsedOnThreads} parsed on the threads`);
  });
});
