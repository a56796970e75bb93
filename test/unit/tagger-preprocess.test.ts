import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  compositeOverWhite,
  padGeometry,
  preprocessImage,
  resizeArea,
  resizeLanczos,
  resizeMethodFor,
  toNchwFloat32,
  toNhwcFloat32,
  toPaddedBgrSquare,
} from '../../src/core/tagger/preprocess';

const px = (...v: number[]) => new Uint8Array(v);

describe('WD14 preprocessing on hand-made pixels', () => {
  it('composites alpha over white with PIL arithmetic', () => {
    assert.equal(compositeOverWhite(10, 255), 10);
    assert.equal(compositeOverWhite(10, 0), 255);
    assert.equal(compositeOverWhite(0, 128), 127);
    assert.equal(compositeOverWhite(200, 128), 227); // (200·128 + 255·127) / 255 = 227.4
    assert.equal(compositeOverWhite(0, 1), 254);
  });
  it('pads to a white square like sd-scripts: left = pad_x // 2, the odd pixel right', () => {
    assert.deepEqual(padGeometry(3, 1), { size: 3, left: 0, top: 1 });
    assert.deepEqual(padGeometry(1, 4), { size: 4, left: 1, top: 0 });
    assert.deepEqual(padGeometry(2, 5), { size: 5, left: 1, top: 0 });
    assert.deepEqual(padGeometry(7, 7), { size: 7, left: 0, top: 0 });
  });
  it('turns RGB(A) into a BGR white-padded square', () => {
    // 2×1 RGBA: opaque red, half-transparent blue
    const sq = toPaddedBgrSquare({ data: px(255, 0, 0, 255, 0, 0, 255, 128), width: 2, height: 1, channels: 4 });
    assert.ok(sq);
    assert.equal(sq.size, 2);
    // row 0 is padding (top = 1 // 2 = 0 → the image is on row 0, padding on row 1)
    assert.deepEqual([...sq.data], [0, 0, 255, 255, 127, 127, 255, 255, 255, 255, 255, 255]);
    // 1×3 grey + alpha: replicated, centred horizontally in a 3×3 square (left = 1)
    const grey = toPaddedBgrSquare({ data: px(10, 255, 20, 0, 30, 255), width: 1, height: 3, channels: 2 });
    assert.ok(grey);
    const row = (y: number) => [...grey.data.slice(y * 9, y * 9 + 9)];
    assert.deepEqual(row(0), [255, 255, 255, 10, 10, 10, 255, 255, 255]);
    assert.deepEqual(row(1), [255, 255, 255, 255, 255, 255, 255, 255, 255]);
    assert.deepEqual(row(2), [255, 255, 255, 30, 30, 30, 255, 255, 255]);
    // RGB 3 channels
    const rgb = toPaddedBgrSquare({ data: px(1, 2, 3), width: 1, height: 1, channels: 3 });
    assert.deepEqual([...(rgb?.data ?? [])], [3, 2, 1]);
  });
  it('rejects buffers that do not hold the pixels they claim, without throwing', () => {
    assert.equal(toPaddedBgrSquare({ data: px(1, 2), width: 1, height: 1, channels: 3 }), undefined);
    assert.equal(toPaddedBgrSquare({ data: px(), width: 0, height: 0, channels: 3 }), undefined);
    assert.equal(toPaddedBgrSquare({ data: px(1, 2, 3), width: 1, height: 1, channels: 5 as 3 }), undefined);
    assert.equal(preprocessImage({ data: px(1, 2, 3), width: 1, height: 1, channels: 3 }, 0), undefined);
    assert.equal(toPaddedBgrSquare(null as never), undefined);
    assert.equal(resizeArea(px(1, 2, 3), 1, 1, 3, -1, 2).length, 0);
    assert.equal(resizeArea(px(1, 2), 1, 1, 3, 1, 1).length, 0);
    assert.equal(resizeLanczos(px(1, 2, 3), 1, 1, 3, 2.5, 2).length, 0);
  });
  it('picks INTER_AREA at or above the model size and Lanczos below, like resize_image', () => {
    assert.equal(resizeMethodFor(1024, 448), 'area');
    assert.equal(resizeMethodFor(449, 448), 'area');
    assert.equal(resizeMethodFor(448, 448), 'none');
    assert.equal(resizeMethodFor(447, 448), 'lanczos');
  });
  it('INTER_AREA averages the covered area (integer and fractional factors)', () => {
    // 4×1 → 2×1 (one channel): pairs averaged
    assert.deepEqual([...resizeArea(px(0, 10, 20, 40, 0, 10, 20, 40), 4, 2, 1, 2, 1)], [5, 30]);
    // 3 → 2: out0 = (a + b/2) / 1.5, out1 = (b/2 + c) / 1.5
    assert.deepEqual([...resizeArea(px(30, 60, 90), 3, 1, 1, 2, 1)], [40, 80]);
    // ties round to even, as OpenCV's saturate_cast does: (1 + 2) / 2 = 1.5 → 2, (3 + 4)/2 = 3.5 → 4
    assert.deepEqual([...resizeArea(px(1, 2, 3, 4), 4, 1, 1, 2, 1)], [2, 4]);
    assert.deepEqual([...resizeArea(px(2, 3, 4, 5), 4, 1, 1, 2, 1)], [2, 4]);
    // a uniform image stays uniform at any factor
    const u = new Uint8Array(7 * 7 * 3).fill(77);
    assert.ok(resizeArea(u, 7, 7, 3, 3, 3).every((v) => v === 77));
  });
  it('Lanczos upscaling keeps constants and matches Pillow on a step edge', () => {
    const u = new Uint8Array(3 * 3 * 3).fill(200);
    assert.ok(resizeLanczos(u, 3, 3, 3, 8, 8).every((v) => v === 200));
    // 2 → 4 on one row [0, 255], by Pillow's formula: output 1 has centre 0.75, taps at 0 and 1 with
    // L(-0.25) = 0.8901 and L(0.75) = 0.2702 (L(x) = sinc(x)·sinc(x/3)), normalised: 255 · 0.2329 = 59.4 → 59;
    // output 0 gets a negative weight on 255 and clips to 0; the other half mirrors it
    const edge = resizeLanczos(px(0, 255), 2, 1, 1, 4, 1);
    assert.deepEqual([...edge], [0, 59, 196, 255]);
  });
  it('packs NHWC float32 0..255 in BGR order, and NCHW for the other structure', () => {
    const a = preprocessImage({ data: px(255, 0, 0), width: 1, height: 1, channels: 3 }, 2);
    assert.deepEqual([...(a ?? [])], [0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255]);
    const t = toNhwcFloat32([a, undefined], 2);
    assert.equal(t.length, 2 * 2 * 2 * 3);
    assert.deepEqual([...t.slice(0, 3)], [0, 0, 255]);
    assert.ok(t.slice(12).every((v) => v === 255), 'a missing slot is white');
    const c = toNchwFloat32([a], 2, true);
    assert.deepEqual([...c], [-1, -1, -1, -1, -1, -1, -1, -1, 1, 1, 1, 1]);
  });
  it('runs the whole chain: a 4×2 RGBA image into a 2×2 model input', () => {
    // left half opaque black, right half transparent → white; padded to 4×4 (top = 1), then area 2×
    const data = new Uint8Array(4 * 2 * 4);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) data.set(x < 2 ? [0, 0, 0, 255] : [0, 0, 0, 0], (y * 4 + x) * 4);
    const out = preprocessImage({ data, width: 4, height: 2, channels: 4 }, 2);
    // top-left 2×2 block: padding row (white) + image row (black) → 127.5 → 128 (to even)
    assert.deepEqual([...(out ?? [])], [128, 128, 128, 255, 255, 255, 128, 128, 128, 255, 255, 255]);
  });
});
