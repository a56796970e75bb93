import { describe, it, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { parseImageHeader, readImageHeader, sniffFormat, exifOrientation } from '../../src/core/dataset/imageHeader';
import { exifTiff, loadSharp, makeBmp, makeGif, makePng, makeWebpHeader, rawPicture } from './dataset-fixtures';
import { tempDir } from './helpers';

const codes = (h: { problems: Array<{ code: string }> }) => h.problems.map((p) => p.code);

describe('image header: PNG', () => {
  it('reads size, depth, colour type and alpha', () => {
    const h = parseImageHeader(makePng({ width: 33, height: 17 }));
    assert.deepEqual(
      [h.format, h.width, h.height, h.bitDepth, h.channels, h.hasAlpha, h.colorModel, h.animated ?? false, codes(h)],
      ['png', 33, 17, 8, 3, false, 'rgb', false, []],
    );
    const rgba = parseImageHeader(makePng({ width: 4, height: 4, colorType: 6 }));
    assert.equal(rgba.hasAlpha, true);
    assert.equal(rgba.channels, 4);
    const g16 = parseImageHeader(makePng({ width: 4, height: 4, colorType: 0, depth: 16 }));
    assert.deepEqual([g16.bitDepth, g16.colorModel], [16, 'gray']);
    assert.equal(parseImageHeader(makePng({ width: 4, height: 4, tRNS: true })).hasAlpha, true);
  });
  it('finds APNG animation and eXIf orientation behind a big text chunk', () => {
    const h = parseImageHeader(makePng({ width: 8, height: 8, frames: 3, orientation: 6, textBytes: 200_000 }));
    assert.deepEqual([h.animated, h.frames, h.orientation, codes(h)], [true, 3, 6, []]);
  });
  it('reports truncated and damaged PNGs', () => {
    const png = makePng({ width: 20, height: 20 });
    assert.deepEqual(codes(parseImageHeader(png.subarray(0, png.length - 30))), ['truncated']);
    assert.deepEqual(codes(parseImageHeader(png.subarray(0, 20))), ['truncated']);
    const bad = Buffer.from(png);
    bad[20] = (bad[20] ?? 0) ^ 0xff; // the height, without fixing the CRC
    assert.ok(codes(parseImageHeader(bad)).includes('corrupt'));
  });
});

describe('image header: JPEG, WebP, BMP, GIF (generated)', () => {
  let sharp: ReturnType<typeof loadSharp>;
  before(() => {
    sharp = loadSharp();
  });
  it('reads a JPEG frame header and the EXIF orientation', async () => {
    const pic = rawPicture(64, 48);
    const jpg = await sharp(pic.data, { raw: pic.info }).jpeg().toBuffer();
    const h = parseImageHeader(jpg);
    assert.deepEqual([h.format, h.width, h.height, h.bitDepth, h.channels, h.colorModel, codes(h)], ['jpeg', 64, 48, 8, 3, 'ycbcr', []]);
    assert.equal(h.orientation, undefined);
    const rotated = await sharp(pic.data, { raw: pic.info }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    assert.equal(parseImageHeader(rotated).orientation, 6);
  });
  it('recognises a CMYK JPEG and a truncated one', async () => {
    const pic = rawPicture(32, 32);
    const cmyk = await sharp(pic.data, { raw: pic.info }).toColourspace('cmyk').jpeg().toBuffer();
    const h = parseImageHeader(cmyk);
    assert.equal(h.channels, 4);
    assert.ok(h.colorModel === 'cmyk' || h.colorModel === 'ycck', String(h.colorModel));
    const jpg = await sharp(pic.data, { raw: pic.info }).jpeg().toBuffer();
    assert.deepEqual(codes(parseImageHeader(jpg.subarray(0, Math.floor(jpg.length * 0.7)))), ['truncated']);
    // cut inside the headers: no frame header reachable
    assert.deepEqual(codes(parseImageHeader(jpg.subarray(0, 12))), ['truncated']);
  });
  it('reads lossy, lossless and extended WebP', async () => {
    const pic = rawPicture(40, 30);
    const lossy = parseImageHeader(await sharp(pic.data, { raw: pic.info }).webp({ quality: 50 }).toBuffer());
    assert.deepEqual([lossy.format, lossy.width, lossy.height, lossy.hasAlpha, codes(lossy)], ['webp', 40, 30, false, []]);
    const alpha = parseImageHeader(await sharp(pic.data, { raw: pic.info }).ensureAlpha(0.5).webp({ lossless: true }).toBuffer());
    assert.deepEqual([alpha.width, alpha.height, alpha.hasAlpha], [40, 30, true]);
    const anim = parseImageHeader(makeWebpHeader('VP8X', 300, 200, { animated: true, orientation: 8 }));
    assert.deepEqual([anim.width, anim.height, anim.animated, anim.orientation], [300, 200, true, 8]);
    const vp8l = parseImageHeader(makeWebpHeader('VP8L', 5000, 16, { alpha: true }));
    assert.deepEqual([vp8l.width, vp8l.height, vp8l.hasAlpha], [5000, 16, true]);
    const full = makeWebpHeader('VP8L', 10, 10);
    assert.deepEqual(codes(parseImageHeader(full.subarray(0, full.length - 2))), ['truncated']);
  });
  it('reads BMP and GIF, and counts GIF frames', () => {
    const bmp = parseImageHeader(makeBmp(7, 5));
    assert.deepEqual([bmp.format, bmp.width, bmp.height, bmp.channels, codes(bmp)], ['bmp', 7, 5, 3, []]);
    assert.deepEqual(codes(parseImageHeader(makeBmp(100, 100).subarray(0, 500))), ['truncated']);
    const still = parseImageHeader(makeGif(3, 2, 1));
    assert.deepEqual([still.format, still.width, still.height, still.animated ?? false, still.frames], ['gif', 3, 2, false, 1]);
    const anim = parseImageHeader(makeGif(3, 2, 3));
    assert.deepEqual([anim.animated, anim.frames], [true, 2]);
  });
});

describe('image header: garbage and files', () => {
  it('sniffs content, not names, and never throws on garbage', () => {
    assert.equal(sniffFormat(Buffer.from('hello world, not an image')), 'unknown');
    assert.deepEqual(codes(parseImageHeader(Buffer.from('<html>oops</html>'))), ['unknownFormat']);
    assert.deepEqual(codes(parseImageHeader(new Uint8Array(0))), ['empty']);
    for (let n = 0; n < 200; n++) {
      // random bytes behind each signature
      for (const sig of [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0xff, 0xd8, 0xff], [0x42, 0x4d], [0x47, 0x49, 0x46, 0x38, 0x39, 0x61]]) {
        const junk = Buffer.concat([Buffer.from(sig), Buffer.from(Array.from({ length: (n * 37) % 300 }, (_, i) => (i * 131 + n * 17) & 0xff))]);
        const h = parseImageHeader(junk);
        assert.ok(Array.isArray(h.problems));
      }
    }
    const riff = Buffer.concat([Buffer.from('RIFF\x10\0\0\0WEBPVP8 ', 'latin1'), Buffer.alloc(4)]);
    assert.ok(codes(parseImageHeader(riff)).length > 0);
  });
  it('reads EXIF in both byte orders', () => {
    assert.equal(exifOrientation(exifTiff(3)), 3);
    assert.equal(exifOrientation(exifTiff(8, true)), 8);
    assert.equal(exifOrientation(Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), exifTiff(6)])), 6);
    assert.equal(exifOrientation(Buffer.from('nope')), undefined);
  });
  it('reads headers from files, with size and mtime, and reports unreadable files', async (t) => {
    const dir = tempDir(t);
    const f = path.join(dir, 'a b 画像.png');
    const png = makePng({ width: 9, height: 7, textBytes: 70_000, orientation: 5 });
    writeFileSync(f, png);
    const h = await readImageHeader(f);
    assert.deepEqual([h.format, h.width, h.height, h.fileSize, h.orientation, codes(h)], ['png', 9, 7, png.length, 5, []]);
    assert.ok((h.mtimeMs ?? 0) > 0);
    const missing = await readImageHeader(path.join(dir, 'nope.png'));
    assert.deepEqual(codes(missing), ['unreadable']);
    const dirAsFile = await readImageHeader(dir);
    assert.deepEqual(codes(dirAsFile), ['unreadable']);
    writeFileSync(path.join(dir, 'zero.jpg'), '');
    assert.deepEqual(codes(await readImageHeader(path.join(dir, 'zero.jpg'))), ['empty']);
  });
});
