import { describe, it, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { writeFileSync, readFileSync } from 'node:fs';
import { parseImageHeader, readImageHeader } from '../../src/core/dataset/imageHeader';
import { auditDataset, auditImage, type AuditImage, type AuditOptions } from '../../src/core/dataset/audit';
import { dHash, groupNearDuplicates, hammingDistance } from '../../src/core/dataset/perceptualHash';
import { probeImages } from '../../src/workers/imageProbe';
import { loadSharp, makeBmp, makeGif, makePng, makeWebpHeader, rawPicture } from './dataset-fixtures';
import { tempDir } from './helpers';

const F = '/data/5_x/img.png';
const auditBytes = (bytes: Buffer, file = F, options: AuditOptions = {}, extra: Partial<AuditImage> = {}) =>
  auditImage({ file, header: parseImageHeader(bytes), hasCaption: true, ...extra }, options);
const codesOf = (ps: Array<{ code: string }>) => ps.map((p) => p.code).sort();

describe('audit rules on one image', () => {
  let sharp: ReturnType<typeof loadSharp>;
  before(() => {
    sharp = loadSharp();
  });
  it('passes a clean image', () => {
    assert.deepEqual(auditBytes(makePng({ width: 1024, height: 1024, pixel: () => 5 })), []);
  });
  it('0-byte, truncated, corrupt and not-an-image files are errors', () => {
    const empty = auditBytes(Buffer.alloc(0), F, {}, { sidecars: ['/data/5_x/img.txt'] });
    assert.deepEqual(codesOf(empty), ['emptyFile']);
    assert.equal(empty[0]?.severity, 'error');
    assert.deepEqual(empty[0]?.fix, { kind: 'deleteToTrash', files: [F, '/data/5_x/img.txt'] });
    const png = makePng({ width: 1024, height: 1024, pixel: () => 1 });
    assert.deepEqual(codesOf(auditBytes(png.subarray(0, png.length - 20))), ['truncated']);
    const bad = Buffer.from(png);
    bad[17] = 0x55;
    assert.ok(codesOf(auditBytes(bad)).includes('corrupt'));
    const text = auditBytes(Buffer.from('just some text'));
    assert.deepEqual(codesOf(text), ['notAnImage']);
    assert.match(text[0]?.message ?? '', /cannot identify image file/);
    // a file that cannot be opened
    const gone = auditImage({ file: '/d/gone.png', header: { format: 'unknown', problems: [{ code: 'unreadable', message: 'cannot read the file: permission denied' }] } });
    assert.deepEqual([gone[0]?.code, gone[0]?.severity, gone[0]?.message], ['unreadable', 'error', 'The file cannot be read: permission denied.']);
    // a worker decode failure on a file whose header is fine
    assert.deepEqual(codesOf(auditBytes(makePng({ width: 1024, height: 1024 }), F, {}, { decodeError: 'zlib: bad data' })), ['corrupt']);
  });
  it('flags content that does not match the extension, with a rename fix', () => {
    const p = auditBytes(makePng({ width: 1024, height: 1024, pixel: () => 9 }), '/d/photo.jpg');
    assert.deepEqual(codesOf(p), ['extensionMismatch']);
    assert.deepEqual(p[0]?.fix, { kind: 'rename', from: '/d/photo.jpg', to: '/d/photo.png' });
    assert.match(p[0]?.message ?? '', /content is PNG but the name ends in \.jpg/);
  });
  it('flags formats sd-scripts does not load', () => {
    assert.deepEqual(codesOf(auditBytes(makeGif(1024, 1024, 1), '/d/a.gif')), ['unsupportedFormat']);
    const avif = Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from('ftypavif\0\0\0\0avifmif1miaf', 'latin1')]);
    const r = auditBytes(avif, '/d/a.avif');
    assert.deepEqual(codesOf(r), ['unsupportedFormat']);
    assert.equal(r[0]?.severity, 'error');
  });
  it('flags images too small for the resolution, with a threshold option', () => {
    const small = makePng({ width: 512, height: 512, pixel: () => 0 });
    const r = auditBytes(small);
    assert.deepEqual(codesOf(r), ['tooSmall']);
    assert.match(r[0]?.message ?? '', /upscaled about 2\.0×/);
    assert.deepEqual(auditBytes(small, F, { resolution: [512, 512] }), []);
    assert.deepEqual(auditBytes(small, F, { tooSmallFraction: 0.2 }), []);
  });
  it('flags low quality for the size, scaled by pixel count (lossy formats only)', async () => {
    const pic = rawPicture(768, 768);
    const jpg = await sharp(pic.data, { raw: pic.info }).jpeg({ quality: 5 }).toBuffer();
    assert.ok(jpg.length < 100_000);
    assert.ok(codesOf(auditBytes(jpg, '/d/a.jpg', { resolution: [768, 768] })).includes('lowQuality'));
    // the same bytes per pixel threshold scales: 768² under 100 KB ⇔ 1536² under 400 KB
    assert.ok(codesOf(auditBytes(jpg, '/d/a.jpg', { resolution: [768, 768], lowQualityBytesPerPixel: jpg.length / (768 * 768) - 0.001 })).length === 0);
    const good = await sharp(pic.data, { raw: pic.info }).jpeg({ quality: 100 }).toBuffer();
    const header = parseImageHeader(good);
    // pretend it is bigger than it is: fine at its real size, low quality at 1/10th
    assert.ok(!codesOf(auditImage({ file: '/d/a.jpg', header, hasCaption: true }, { resolution: [768, 768] })).includes('lowQuality'));
    assert.ok(codesOf(auditImage({ file: '/d/a.jpg', header: { ...header, fileSize: 10_000 }, hasCaption: true }, { resolution: [768, 768] })).includes('lowQuality'));
  });
  it('flags alpha unless alpha_mask, CMYK, 16-bit and animated images', async () => {
    const rgba = makePng({ width: 1024, height: 1024, colorType: 6, pixel: () => 200 });
    assert.deepEqual(codesOf(auditBytes(rgba)), ['alpha']);
    assert.equal(auditBytes(rgba, F, { alphaMask: true })[0]?.severity, 'info');
    const pic = rawPicture(1024, 1024);
    const cmyk = await sharp(pic.data, { raw: pic.info }).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    assert.deepEqual(codesOf(auditBytes(cmyk, '/d/c.jpg')), ['cmyk']);
    const g16 = auditBytes(makePng({ width: 1024, height: 1024, colorType: 0, depth: 16, pixel: () => 3 }));
    assert.deepEqual(codesOf(g16), ['highBitDepth']);
    assert.equal(g16[0]?.severity, 'warning');
    const rgb16 = auditBytes(makePng({ width: 1024, height: 1024, depth: 16, pixel: () => 3 }));
    assert.equal(rgb16[0]?.severity, 'info');
    assert.deepEqual(codesOf(auditBytes(makePng({ width: 1024, height: 1024, frames: 4, pixel: () => 3 }))), ['animated']);
    // a header-only file is tiny: leave the low-quality rule out
    const hdrOnly = { lowQualityBytesPerPixel: 0 };
    assert.deepEqual(codesOf(auditBytes(makeWebpHeader('VP8X', 1024, 1024, { animated: true }), '/d/a.webp', hdrOnly)), ['animated']);
  });
  it('flags EXIF orientation sd-scripts ignores, with a rotate fix', () => {
    const r = auditBytes(makePng({ width: 1024, height: 1024, orientation: 6, pixel: () => 3 }));
    assert.deepEqual(codesOf(r), ['exifOrientation']);
    assert.deepEqual(r[0]?.fix, { kind: 'rotateExif', file: F, orientation: 6 });
    assert.match(r[0]?.message ?? '', /trains sideways/);
    assert.deepEqual(auditBytes(makePng({ width: 1024, height: 1024, orientation: 1, pixel: () => 3 })), []);
  });
  it('guards against decompression bombs like Pillow', () => {
    const warn = auditBytes(makeWebpHeader('VP8X', 10000, 10000), '/d/a.webp', { lowQualityBytesPerPixel: 0 });
    assert.deepEqual(codesOf(warn), ['hugeImage']);
    assert.equal(warn[0]?.severity, 'warning');
    const bomb = auditBytes(makeWebpHeader('VP8X', 16000, 16000), '/d/a.webp');
    assert.equal(bomb[0]?.severity, 'error');
    assert.match(bomb[0]?.message ?? '', /DecompressionBombError/);
  });
  it('flags an image without a caption, and BMPs are fine', () => {
    assert.deepEqual(codesOf(auditImage({ file: '/d/a.bmp', header: parseImageHeader(makeBmp(1024, 1024)), hasCaption: false })), ['imageWithoutCaption']);
  });
});

describe('perceptual hash', () => {
  it('computes dHash over a 9×8 grayscale array', () => {
    const rising = Array.from({ length: 72 }, (_, i) => i % 9);
    assert.equal(dHash(rising), 'ffffffffffffffff');
    assert.equal(dHash(rising.map((v) => 10 - v)), '0000000000000000');
    const firstRowFlip = rising.map((v, i) => (i < 9 ? 10 - v : v));
    assert.equal(dHash(firstRowFlip), '00ffffffffffffff');
    assert.equal(hammingDistance('00ffffffffffffff', 'ffffffffffffffff'), 8);
    assert.equal(dHash([1, 2, 3]), undefined);
    // a larger array is box-sampled first
    assert.equal(dHash(Array.from({ length: 18 * 16 }, (_, i) => i % 18), 18, 16), 'ffffffffffffffff');
  });
  it('groups near hashes transitively, and not far ones', () => {
    const groups = groupNearDuplicates(
      [
        { file: 'a', hash: 'ffffffffffffffff' },
        { file: 'b', hash: 'fffffffffffffff0' }, // 4 bits from a
        { file: 'c', hash: 'ffffffffffffff00' }, // 4 bits from b, 8 from a
        { file: 'd', hash: '0000000000000000' },
        { file: 'e', hash: 'not a hash' },
      ],
      5,
    );
    assert.deepEqual(groups, [['a', 'b', 'c']]);
    assert.deepEqual(groupNearDuplicates([{ file: 'a', hash: 'ffffffffffffffff' }, { file: 'b', hash: 'fffffffffffffff0' }], 3), []);
  });
});

describe('whole-dataset audit with the image worker', () => {
  it('finds exact and near duplicates in groups, stray captions, and decode failures', async (t) => {
    const sharp = loadSharp();
    const dir = tempDir(t);
    const pic = rawPicture(256, 256, 0);
    const other = rawPicture(256, 256, 3);
    const files = {
      a: path.join(dir, 'a.png'),
      b: path.join(dir, 'b copy.png'),
      near: path.join(dir, 'near.jpg'),
      diff: path.join(dir, 'different.png'),
      broken: path.join(dir, 'broken.jpg'),
    };
    await sharp(pic.data, { raw: pic.info }).png().toFile(files.a);
    writeFileSync(files.b, readFileSync(files.a));
    await sharp(pic.data, { raw: pic.info }).modulate({ brightness: 1.05 }).jpeg({ quality: 80 }).toFile(files.near);
    await sharp(other.data, { raw: other.info }).png().toFile(files.diff);
    const jpg = await sharp(other.data, { raw: other.info }).jpeg().toBuffer();
    // keep the headers and the end marker, cut the scan data: the header reader cannot tell
    writeFileSync(files.broken, Buffer.concat([jpg.subarray(0, Math.floor(jpg.length / 2)), Buffer.from([0xff, 0xd9])]));
    const list = Object.values(files);
    const probe = await probeImages(list, { sharp });
    const byFile = new Map(probe.items.map((i) => [i.file, i]));
    assert.equal(byFile.get(files.a)?.ok, true);
    assert.equal(byFile.get(files.a)?.gray?.length, 72);
    assert.equal(byFile.get(files.broken)?.ok, false);
    const images: AuditImage[] = [];
    for (const f of list) {
      const item = byFile.get(f);
      const img: AuditImage = { file: f, header: await readImageHeader(f), hasCaption: true };
      if (item?.dhash) img.perceptualHash = item.dhash;
      if (item && !item.ok && item.error) img.decodeError = item.error;
      images.push(img);
    }
    const problems = await auditDataset(
      { images, strayCaptions: [path.join(dir, 'lost.txt')] },
      { resolution: [256, 256], lowQualityBytesPerPixel: 0 },
    );
    const by = (code: string) => problems.filter((p) => p.code === code);
    assert.deepEqual(by('duplicate').map((p) => [path.basename(p.file), p.related?.map((r) => path.basename(r))]), [
      ['a.png', ['b copy.png']],
      ['b copy.png', ['a.png']],
    ]);
    // the second of a group gets the delete fix
    assert.deepEqual(by('duplicate')[1]?.fix, { kind: 'deleteToTrash', files: [files.b] });
    const near = by('nearDuplicate').map((p) => path.basename(p.file)).sort();
    assert.deepEqual(near, ['a.png', 'b copy.png', 'near.jpg']);
    assert.ok(!near.includes('different.png'));
    assert.deepEqual(by('captionWithoutImage').map((p) => path.basename(p.file)), ['lost.txt']);
    assert.deepEqual(by('corrupt').map((p) => path.basename(p.file)), ['broken.jpg']);
  });
});
