/**
 * TensorBoard event files (`events.out.tfevents.*`), read and written without TensorFlow.
 *
 * A file is a sequence of TFRecords: uint64 LE length, masked CRC-32C of those 8 bytes, `length`
 * bytes of a serialized `Event` protobuf, masked CRC-32C of the data. We decode the fields a
 * training run writes: wall_time, step, file_version, and `summary.value[]` scalars, either as
 * `simple_value` (tensorboardX, PyTorch SummaryWriter, accelerate) or as a one-element tensor (the
 * TF2 `tf.summary.scalar` form).
 *
 * The one reader used by the run panel and `lwb tfevents`. Pure Node (node:fs only), never throws
 * out of its public functions on bad input: problems come back as data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { maskedCrc32c } from './crc32c';

export interface ScalarPoint {
  tag: string;
  step: number;
  /** seconds since the Unix epoch, as the writer recorded it */
  wallTime: number;
  value: number;
}

export interface CorruptRecord {
  file: string;
  /** byte offset of the record (or of the first bad byte) in the file */
  offset: number;
  reason: string;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: { tag: string; value: number }[];
}

// ---------------------------------------------------------------------------------------------
// protobuf decoding (only what Event needs)

const TEXT = new TextDecoder('utf-8', { fatal: false });
const TWO_32 = 4294967296;

class Cursor {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  /** varint as a JS number (exact up to 2^53; int64 negatives come back negative) */
  varint(): number {
    const b = this.b;
    let pos = this.pos;
    if (pos >= this.end) throw new ProtoError('varint past end');
    let byte = b[pos++] as number;
    if (byte < 0x80) {
      this.pos = pos;
      return byte;
    }
    let value = byte & 0x7f;
    let mul = 128;
    for (let i = 1; i < 10; i++) {
      if (pos >= this.end) throw new ProtoError('varint past end');
      byte = b[pos++] as number;
      value += (byte & 0x7f) * mul;
      if (byte < 0x80) {
        if (i >= 7) return this.bigVarint();
        this.pos = pos;
        return value;
      }
      mul *= 128;
    }
    throw new ProtoError('varint too long');
  }
  /** more than 49 bits: decode exactly as int64, then to number */
  private bigVarint(): number {
    let v = 0n;
    let shift = 0n;
    let pos = this.pos;
    for (;;) {
      const byte = this.b[pos++] as number;
      v |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (byte < 0x80) break;
    }
    this.pos = pos;
    return Number(BigInt.asIntN(64, v));
  }
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const n = this.varint();
        this.pos += n;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new ProtoError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new ProtoError('field past end');
  }
  /** length of a length-delimited field, checked against the end */
  len(): number {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) throw new ProtoError('length past end');
    return n;
  }
}

class ProtoError extends Error {}

/** Scratch views for little-endian float reads without allocating per value. */
const SCRATCH = new Uint8Array(8);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);
function readF32(b: Uint8Array, at: number): number {
  SCRATCH[0] = b[at] as number;
  SCRATCH[1] = b[at + 1] as number;
  SCRATCH[2] = b[at + 2] as number;
  SCRATCH[3] = b[at + 3] as number;
  return SCRATCH_VIEW.getFloat32(0, true);
}
function readF64(b: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) SCRATCH[i] = b[at + i] as number;
  return SCRATCH_VIEW.getFloat64(0, true);
}

/** Tags repeat on every record: intern them by a hash of their bytes instead of decoding each. */
const tagCache = new Map<number, string[]>();
let tagCacheSize = 0;
/** the most recently used tags, checked before hashing (runs cycle through a few tags) */
const MRU_SIZE = 8;
const mru: string[] = [];
function decodeTag(b: Uint8Array, s: number, e: number): string {
  const len = e - s;
  if (len > 256) return TEXT.decode(b.subarray(s, e));
  mruLoop: for (let k = 0; k < mru.length; k++) {
    const str = mru[k] as string;
    if (str.length !== len) continue;
    for (let i = len - 1; i >= 0; i--) if (str.charCodeAt(i) !== b[s + i]) continue mruLoop;
    return str;
  }
  const str = decodeTagSlow(b, s, e);
  if (mru.length < MRU_SIZE) mru.push(str);
  else {
    mru.pop();
    mru.unshift(str);
  }
  return str;
}

function decodeTagSlow(b: Uint8Array, s: number, e: number): string {
  const len = e - s;
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) {
    const c = b[i] as number;
    if (c >= 0x80) return TEXT.decode(b.subarray(s, e));
    h = Math.imul(h ^ c, 0x01000193);
  }
  const bucket = tagCache.get(h);
  if (bucket) {
    outer: for (const str of bucket) {
      if (str.length !== len) continue;
      for (let i = 0; i < len; i++) if (str.charCodeAt(i) !== b[s + i]) continue outer;
      return str;
    }
  }
  const str = TEXT.decode(b.subarray(s, e));
  if (tagCacheSize < 10000) {
    if (bucket) bucket.push(str);
    else tagCache.set(h, [str]);
    tagCacheSize++;
  }
  return str;
}

// TensorProto dtypes
const DT_FLOAT = 1;
const DT_DOUBLE = 2;
const DT_INT32 = 3;
const DT_INT64 = 9;
const DT_BFLOAT16 = 14;
const DT_HALF = 19;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** A TensorProto holding exactly one number → that number; anything else → undefined. */
function decodeScalarTensor(b: Uint8Array, start: number, end: number): number | undefined {
  const c = new Cursor(b, start, end);
  let dtype = 0;
  const values: number[] = [];
  let content: [number, number] | undefined;
  let dims = 0;
  let totalElems = 1;
  while (c.pos < end) {
    const key = c.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 0) dtype = c.varint();
    else if (field === 2 && wt === 2) {
      // TensorShapeProto: dim (1) { size (1) }
      const n = c.len();
      const sc = new Cursor(b, c.pos, c.pos + n);
      while (sc.pos < sc.end) {
        const k = sc.varint();
        if (k >>> 3 === 1 && (k & 7) === 2) {
          const dn = sc.len();
          const dc = new Cursor(b, sc.pos, sc.pos + dn);
          let size = 0;
          while (dc.pos < dc.end) {
            const dk = dc.varint();
            if (dk >>> 3 === 1 && (dk & 7) === 0) size = dc.varint();
            else dc.skip(dk & 7);
          }
          dims++;
          totalElems *= size;
          sc.pos += dn;
        } else sc.skip(k & 7);
      }
      c.pos += n;
    } else if (field === 4 && wt === 2) {
      const n = c.len();
      content = [c.pos, c.pos + n];
      c.pos += n;
    } else if (field === 5 && wt === 2) {
      const n = c.len();
      for (let p = c.pos; p + 4 <= c.pos + n; p += 4) values.push(readF32(b, p));
      c.pos += n;
    } else if (field === 5 && wt === 5) {
      values.push(readF32(b, c.pos));
      c.pos += 4;
    } else if (field === 6 && wt === 2) {
      const n = c.len();
      for (let p = c.pos; p + 8 <= c.pos + n; p += 8) values.push(readF64(b, p));
      c.pos += n;
    } else if (field === 6 && wt === 1) {
      values.push(readF64(b, c.pos));
      c.pos += 8;
    } else if ((field === 7 || field === 10 || field === 13) && wt === 2) {
      // int_val (int32, also holds half/bfloat16 bits), int64_val, half_val: packed varints
      const n = c.len();
      const pc = new Cursor(b, c.pos, c.pos + n);
      while (pc.pos < pc.end) values.push(pc.varint());
      c.pos += n;
    } else if ((field === 7 || field === 10 || field === 13) && wt === 0) {
      values.push(c.varint());
    } else c.skip(wt);
    if (c.pos > end) throw new ProtoError('tensor past end');
  }
  if (dims > 0 && totalElems !== 1) return undefined;
  if (content) {
    const [s, e] = content;
    const n = e - s;
    if (dtype === DT_FLOAT && n === 4) return readF32(b, s);
    if (dtype === DT_DOUBLE && n === 8) return readF64(b, s);
    if (dtype === DT_INT32 && n === 4) return new DataView(b.buffer, b.byteOffset + s, 4).getInt32(0, true);
    if (dtype === DT_INT64 && n === 8) return Number(new DataView(b.buffer, b.byteOffset + s, 8).getBigInt64(0, true));
    if (dtype === DT_HALF && n === 2) return halfToFloat((b[s] as number) | ((b[s + 1] as number) << 8));
    if (dtype === DT_BFLOAT16 && n === 2) {
      SCRATCH_VIEW.setUint32(0, (((b[s] as number) | ((b[s + 1] as number) << 8)) << 16) >>> 0, true);
      return SCRATCH_VIEW.getFloat32(0, true);
    }
    return undefined;
  }
  if (values.length !== 1) return undefined;
  const v = values[0] as number;
  if (dtype === DT_HALF) return halfToFloat(v & 0xffff);
  if (dtype === DT_BFLOAT16) {
    SCRATCH_VIEW.setUint32(0, ((v & 0xffff) << 16) >>> 0, true);
    return SCRATCH_VIEW.getFloat32(0, true);
  }
  if (dtype === DT_INT32 || dtype === DT_INT64 || dtype === DT_FLOAT || dtype === DT_DOUBLE) return v;
  return undefined;
}

/** plugin_name inside SummaryMetadata (field 9 of Value) */
function pluginName(b: Uint8Array, start: number, end: number): string {
  const c = new Cursor(b, start, end);
  while (c.pos < end) {
    const k = c.varint();
    if (k >>> 3 === 1 && (k & 7) === 2) {
      const n = c.len();
      const pc = new Cursor(b, c.pos, c.pos + n);
      while (pc.pos < pc.end) {
        const pk = pc.varint();
        if (pk >>> 3 === 1 && (pk & 7) === 2) {
          const m = pc.len();
          return TEXT.decode(b.subarray(pc.pos, pc.pos + m));
        }
        pc.skip(pk & 7);
      }
      c.pos += n;
    } else c.skip(k & 7);
  }
  return '';
}

// The hot path: a cursor in module state (no allocation per field), fields matched by their key
// byte. Only tensors and plugin metadata (rare) go through the Cursor class above.
const BAD = new ProtoError('malformed protobuf');
let P = 0;

function varintAt(b: Uint8Array, end: number): number {
  if (P >= end) throw BAD;
  let byte = b[P++] as number;
  if (byte < 0x80) return byte;
  const start = P - 1;
  let value = byte & 0x7f;
  let mul = 128;
  for (let i = 1; i < 10; i++) {
    if (P >= end) throw BAD;
    byte = b[P++] as number;
    value += (byte & 0x7f) * mul;
    if (byte < 0x80) {
      if (i >= 7) {
        const c = new Cursor(b, start, end);
        const v = c.varint();
        P = c.pos;
        return v;
      }
      return value;
    }
    mul *= 128;
  }
  throw BAD;
}
function lenAt(b: Uint8Array, end: number): number {
  const n = varintAt(b, end);
  if (n < 0 || P + n > end) throw BAD;
  return n;
}
function skipAt(b: Uint8Array, end: number, wireType: number): void {
  switch (wireType) {
    case 0:
      varintAt(b, end);
      return;
    case 1:
      P += 8;
      break;
    case 2: {
      const n = lenAt(b, end);
      P += n;
      break;
    }
    case 5:
      P += 4;
      break;
    default:
      throw BAD;
  }
  if (P > end) throw BAD;
}

// the event being decoded
let evWall = 0;
let evStep = 0;
let evVersion: string | undefined;
let evN = 0;
const evTags: string[] = [];
const evValues: number[] = [];

function valueAt(b: Uint8Array, dv: DataView, end: number): void {
  let tagS = -1;
  let tagE = -1;
  let simple = false;
  let sv = 0;
  let tS = -1;
  let tE = -1;
  let mS = -1;
  let mE = -1;
  while (P < end) {
    const key = varintAt(b, end);
    if (key === 0x0a) {
      const n = lenAt(b, end);
      tagS = P;
      tagE = P + n;
      P += n;
    } else if (key === 0x15) {
      if (P + 4 > end) throw BAD;
      sv = dv.getFloat32(P, true);
      simple = true;
      P += 4;
    } else if (key === 0x42) {
      const n = lenAt(b, end);
      tS = P;
      tE = P + n;
      P += n;
    } else if (key === 0x4a) {
      const n = lenAt(b, end);
      mS = P;
      mE = P + n;
      P += n;
    } else skipAt(b, end, key & 7);
  }
  let value: number | undefined;
  if (simple) value = sv;
  else if (tS >= 0) {
    const plugin = mS >= 0 ? pluginName(b, mS, mE) : '';
    if (plugin === '' || plugin === 'scalars') value = decodeScalarTensor(b, tS, tE);
  }
  if (value === undefined) return;
  evTags[evN] = tagS >= 0 ? decodeTag(b, tagS, tagE) : '';
  evValues[evN] = value;
  evN++;
}

/** Decodes the Event in b[start, end) into the ev* module state; false if it is not a valid Event. */
function decodeEventRaw(b: Uint8Array, dv: DataView, start: number, end: number): boolean {
  evWall = 0;
  evStep = 0;
  evVersion = undefined;
  evN = 0;
  P = start;
  try {
    while (P < end) {
      const key = varintAt(b, end);
      if (key === 0x09) {
        if (P + 8 > end) return false;
        evWall = dv.getFloat64(P, true);
        P += 8;
      } else if (key === 0x10) {
        evStep = varintAt(b, end);
      } else if (key === 0x1a) {
        const n = lenAt(b, end);
        evVersion = TEXT.decode(b.subarray(P, P + n));
        P += n;
      } else if (key === 0x2a) {
        const sLen = lenAt(b, end);
        const sEnd = P + sLen;
        while (P < sEnd) {
          const k = varintAt(b, sEnd);
          if (k === 0x0a) {
            const vLen = lenAt(b, sEnd);
            const vEnd = P + vLen;
            valueAt(b, dv, vEnd);
            P = vEnd;
          } else skipAt(b, sEnd, k & 7);
        }
        if (P !== sEnd) return false;
      } else skipAt(b, end, key & 7);
    }
    return P === end;
  } catch {
    return false;
  }
}

let fTag = '';
let fStep = 0;
let fWall = 0;
let fValue = 0;

/**
 * `09 <wall_time> [10 <step>] 2a L 0a L 0a L <tag> 15 <simple_value>` with one-byte lengths: an
 * Event with one simple scalar, decoded with local variables only. False if the bytes have any
 * other shape (then decodeEventRaw takes them).
 */
function fastScalar(b: Uint8Array, dv: DataView, s: number, e: number): boolean {
  if (b[s] !== 0x09 || s + 9 > e) return false;
  let p = s + 9;
  let step = 0;
  if (b[p] === 0x10) {
    p++;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i === 7 || p >= e) return false;
      const x = b[p++] as number;
      step += (x & 0x7f) * mul;
      if (x < 0x80) break;
      mul *= 128;
    }
  }
  if (b[p] !== 0x2a || (b[p + 1] as number) + p + 2 !== e) return false;
  p += 2;
  if (b[p] !== 0x0a || (b[p + 1] as number) + p + 2 !== e) return false;
  p += 2;
  if (b[p] !== 0x0a) return false;
  const tl = b[p + 1] as number;
  if (tl >= 0x80) return false;
  const ts = p + 2;
  p = ts + tl;
  if (p + 5 !== e || b[p] !== 0x15) return false;
  fWall = dv.getFloat64(s + 1, true);
  fStep = step;
  fValue = dv.getFloat32(p + 1, true);
  fTag = decodeTag(b, ts, ts + tl);
  return true;
}

/**
 * Decodes one serialized `Event`. Returns undefined when the bytes are not a valid Event (never
 * throws).
 */
export function decodeEvent(b: Uint8Array, start = 0, end = b.length): DecodedEvent | undefined {
  if (start < 0 || end > b.length || start > end) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (!decodeEventRaw(b, dv, start, end)) return undefined;
  const ev: DecodedEvent = { wallTime: evWall, step: evStep, scalars: [] };
  if (evVersion !== undefined) ev.fileVersion = evVersion;
  for (let i = 0; i < evN; i++) ev.scalars.push({ tag: evTags[i] as string, value: evValues[i] as number });
  return ev;
}

// ---------------------------------------------------------------------------------------------
// TFRecord framing

export interface ParseResult {
  /** bytes of `buf` consumed: complete records, skipped corrupt bytes */
  consumed: number;
  /** the scalars found (the `into` array when one was given; empty when a sink was given) */
  scalars: ScalarPoint[];
  /** number of scalars found */
  points: number;
  corrupt: { offset: number; reason: string }[];
  fileVersion?: string;
  records: number;
  /** still searching for the next valid header after a bad one (state for the next call) */
  resyncing: boolean;
}

/**
 * Receives scalars as they are decoded, without an object per point: what a chart needs for
 * large runs (`SeriesCollector` keeps columns per tag).
 */
export interface ScalarSink {
  add(tag: string, step: number, wallTime: number, value: number): void;
}

/** One tag's points as columns, in order of arrival. */
export interface ScalarSeries {
  tag: string;
  steps: Float64Array;
  wallTimes: Float64Array;
  values: Float64Array;
}

class Columns {
  n = 0;
  steps: Float64Array = new Float64Array(256);
  wallTimes: Float64Array = new Float64Array(256);
  values: Float64Array = new Float64Array(256);
  push(step: number, wallTime: number, value: number): void {
    if (this.n === this.steps.length) {
      const grow = (a: Float64Array): Float64Array => {
        const x = new Float64Array(a.length * 2);
        x.set(a);
        return x;
      };
      this.steps = grow(this.steps);
      this.wallTimes = grow(this.wallTimes);
      this.values = grow(this.values);
    }
    const i = this.n++;
    this.steps[i] = step;
    this.wallTimes[i] = wallTime;
    this.values[i] = value;
  }
}

/**
 * A ScalarSink that keeps columns (Float64Array) per tag: no object per point, cheap to grow,
 * cheap to send to a webview. What the run panel should keep per run.
 */
export class SeriesCollector implements ScalarSink {
  private readonly cols = new Map<string, Columns>();
  add(tag: string, step: number, wallTime: number, value: number): void {
    let c = this.cols.get(tag);
    if (!c) {
      c = new Columns();
      this.cols.set(tag, c);
    }
    c.push(step, wallTime, value);
  }
  /** tags in order of first appearance */
  get tags(): string[] {
    return [...this.cols.keys()];
  }
  /** number of points of a tag (all tags when omitted) */
  count(tag?: string): number {
    if (tag !== undefined) return this.cols.get(tag)?.n ?? 0;
    let n = 0;
    for (const c of this.cols.values()) n += c.n;
    return n;
  }
  /** the points of a tag from index `from` on, as views (no copy; valid until the next add) */
  get(tag: string, from = 0): ScalarSeries | undefined {
    const c = this.cols.get(tag);
    if (!c) return undefined;
    const f = Math.max(0, Math.min(from, c.n));
    return { tag, steps: c.steps.subarray(f, c.n), wallTimes: c.wallTimes.subarray(f, c.n), values: c.values.subarray(f, c.n) };
  }
  /** every tag's series (views) */
  series(): Map<string, ScalarSeries> {
    const out = new Map<string, ScalarSeries>();
    for (const tag of this.cols.keys()) out.set(tag, this.get(tag) as ScalarSeries);
    return out;
  }
}

/** Records longer than this are taken as a corrupt length even if its CRC matched by chance. */
const MAX_RECORD = 1 << 30;

function u64le(b: Uint8Array, at: number): number {
  const lo = ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
  const hi = ((b[at + 4] as number) | ((b[at + 5] as number) << 8) | ((b[at + 6] as number) << 16) | ((b[at + 7] as number) << 24)) >>> 0;
  return hi * TWO_32 + lo;
}
function u32le(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
}

function headerOk(b: Uint8Array, at: number): boolean {
  return maskedCrc32c(b, at, at + 8) === u32le(b, at + 8) && u64le(b, at) <= MAX_RECORD;
}

/**
 * Parses the complete records in `buf` (whose first byte is at file offset `baseOffset`). A record
 * cut off at the end is not consumed: read again from `baseOffset + consumed` once more bytes are
 * there. A record whose data CRC fails is reported and skipped; after a header whose CRC fails the
 * parser searches byte by byte for the next valid header (`resyncing` carries that over calls).
 */
export function parseRecords(
  buf: Uint8Array,
  baseOffset = 0,
  options: { checkCrc?: boolean; resyncing?: boolean; into?: ScalarPoint[]; sink?: ScalarSink } = {},
): ParseResult {
  const check = options.checkCrc !== false;
  const out = options.into ?? [];
  const sink = options.sink;
  const res: ParseResult = { consumed: 0, scalars: out, points: 0, corrupt: [], records: 0, resyncing: options.resyncing === true };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = buf.length;
  let pos = 0;
  while (n - pos >= 12) {
    if (res.resyncing) {
      // find a header whose length CRC matches
      let found = -1;
      for (let p = pos; p + 12 <= n; p++) {
        if (headerOk(buf, p)) {
          found = p;
          break;
        }
      }
      if (found < 0) {
        pos = n - 11; // the last 11 bytes cannot be checked yet
        break;
      }
      pos = found;
      res.resyncing = false;
    }
    const len = u64le(buf, pos);
    if (check || len > MAX_RECORD) {
      if (len > MAX_RECORD || maskedCrc32c(buf, pos, pos + 8) !== u32le(buf, pos + 8)) {
        res.corrupt.push({ offset: baseOffset + pos, reason: 'record length fails its CRC check' });
        res.resyncing = true;
        pos += 1;
        continue;
      }
    }
    const total = 12 + len + 4;
    if (n - pos < total) break; // partly written: wait
    const dStart = pos + 12;
    const dEnd = dStart + len;
    if (check && maskedCrc32c(buf, dStart, dEnd) !== u32le(buf, dEnd)) {
      res.corrupt.push({ offset: baseOffset + pos, reason: `record data (${len} bytes) fails its CRC check` });
      pos += total;
      continue;
    }
    // fast path: one simple_value scalar, the layout every tensorboardX/PyTorch writer emits
    if (fastScalar(buf, dv, dStart, dEnd)) {
      if (sink) sink.add(fTag, fStep, fWall, fValue);
      else out.push({ tag: fTag, step: fStep, wallTime: fWall, value: fValue });
      res.records++;
      res.points++;
      pos += total;
      continue;
    }
    if (!decodeEventRaw(buf, dv, dStart, dEnd)) {
      res.corrupt.push({ offset: baseOffset + pos, reason: `record data (${len} bytes) is not a TensorBoard Event` });
      pos += total;
      continue;
    }
    res.records++;
    if (evVersion !== undefined) res.fileVersion = evVersion;
    if (sink) for (let i = 0; i < evN; i++) sink.add(evTags[i] as string, evStep, evWall, evValues[i] as number);
    else for (let i = 0; i < evN; i++) out.push({ tag: evTags[i] as string, step: evStep, wallTime: evWall, value: evValues[i] as number });
    res.points += evN;
    pos += total;
  }
  res.consumed = Math.max(0, Math.min(pos, n));
  return res;
}

// ---------------------------------------------------------------------------------------------
// incremental file reader

export interface ReadResult {
  /** scalars from records completed since the previous read (empty when read into a sink) */
  scalars: ScalarPoint[];
  /** how many scalars were read */
  points: number;
  corrupt: CorruptRecord[];
  /** set when the file could not be opened or read (it may not exist yet); offset is unchanged */
  error?: string;
  /** file offset after this read (start of the first incomplete record) */
  offset: number;
  /** the file is shorter than our offset: it was replaced; the reader started again from 0 */
  restarted?: boolean;
}

/** Bytes read per step. Small enough to stay in cache, large enough to amortise the calls. */
const DEFAULT_CHUNK = 4 << 20;
/** One read buffer for all readers (reads are synchronous, so it is never shared by two at once). */
let scratchBuf: Buffer | undefined;
function scratch(n: number): Buffer {
  if (!scratchBuf || scratchBuf.length < n) scratchBuf = Buffer.allocUnsafe(Math.max(n, 1 << 16));
  return scratchBuf;
}

/**
 * Reads one event file incrementally: each `read()` returns only what was appended since the last.
 * Holds no file handle between reads.
 */
export class EventFileReader {
  private offset = 0;
  private resyncing = false;
  /** file_version of the first record, e.g. `brain.Event:2` */
  fileVersion: string | undefined;
  records = 0;

  constructor(
    readonly file: string,
    private readonly options: { checkCrc?: boolean; maxChunk?: number } = {},
  ) {}

  get position(): number {
    return this.offset;
  }

  /** New scalars as objects (convenient for small files and tests). */
  read(): ReadResult {
    return this.readInto(undefined);
  }

  /**
   * New scalars into `sink` (no object per point: use a SeriesCollector for charts of big runs);
   * the result's `scalars` is then empty and `points` counts them.
   */
  readInto(sink: ScalarSink | undefined): ReadResult {
    const out: ReadResult = { scalars: [], points: 0, corrupt: [], offset: this.offset };
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, 'r');
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) {
        this.offset = 0;
        this.resyncing = false;
        out.restarted = true;
      }
      const maxChunk = Math.max(1 << 16, this.options.maxChunk ?? DEFAULT_CHUNK);
      while (this.offset < size) {
        const want = Math.min(size - this.offset, maxChunk);
        const buf = scratch(want);
        let got = 0;
        while (got < want) {
          const r = fs.readSync(fd, buf, got, want - got, this.offset + got);
          if (r === 0) break;
          got += r;
        }
        const view = buf.subarray(0, got);
        const pr = parseRecords(view, this.offset, { checkCrc: this.options.checkCrc !== false, resyncing: this.resyncing, into: out.scalars, ...(sink ? { sink } : {}) });
        out.points += pr.points;
        this.resyncing = pr.resyncing;
        this.records += pr.records;
        if (pr.fileVersion !== undefined && this.fileVersion === undefined) this.fileVersion = pr.fileVersion;
        for (const c of pr.corrupt) out.corrupt.push({ file: this.file, offset: c.offset, reason: c.reason });
        this.offset += pr.consumed;
        if (pr.consumed === 0) {
          // one record bigger than the chunk: read it whole if it is complete
          if (got === want && want === maxChunk && got >= 12) {
            const len = u64le(view, 0);
            if (len + 16 <= size - this.offset && len + 16 > maxChunk && len <= MAX_RECORD) {
              const big = Buffer.allocUnsafe(len + 16);
              fs.readSync(fd, big, 0, big.length, this.offset);
              const pr2 = parseRecords(big, this.offset, { checkCrc: this.options.checkCrc !== false, into: out.scalars, ...(sink ? { sink } : {}) });
              out.points += pr2.points;
              for (const c of pr2.corrupt) out.corrupt.push({ file: this.file, offset: c.offset, reason: c.reason });
              this.records += pr2.records;
              this.offset += Math.max(pr2.consumed, 1);
              continue;
            }
          }
          break;
        }
        if (got < want) break;
      }
    } catch (e) {
      out.error = (e as Error).message;
    } finally {
      if (fd !== undefined) {
        try {
          fs.closeSync(fd);
        } catch {
          /* ignore */
        }
      }
    }
    out.offset = this.offset;
    return out;
  }
}

/** Reads a whole event file at once (still never throws). */
export function readEventFile(file: string, options: { checkCrc?: boolean } = {}): ReadResult & { fileVersion?: string } {
  const r = new EventFileReader(file, options);
  const res = r.read();
  return { ...res, ...(r.fileVersion !== undefined ? { fileVersion: r.fileVersion } : {}) };
}

// ---------------------------------------------------------------------------------------------
// runs: folders holding event files

export const EVENT_FILE_RE = /^events\.out\.tfevents\./;

export interface RunFolder {
  /** folder holding the event files */
  dir: string;
  /** path of `dir` relative to the searched root ('' when the root itself holds event files) */
  name: string;
  /** event files in `dir`, sorted by name (TensorBoard's order: by creation time in the name) */
  files: string[];
  /** for `<logging_dir>/<prefix><YYYYmmddHHMMSS>/<tracker>/`: the prefix (log_prefix) */
  prefix?: string;
  /** the timestamp from the folder name (`YYYYmmddHHMMSS`, local time of the trainer) */
  timestamp?: string;
  /** tracker folder name, `network_train` for sd-scripts LoRA runs */
  tracker?: string;
}

const RUN_DIR_RE = /^(.*?)(\d{14})$/;

/**
 * Finds run folders under `root` (a logging_dir, a run folder, or the tracker folder itself):
 * every folder up to `maxDepth` levels down that holds event files. Folders named only with digits
 * inside a run folder (accelerate's hparams sub-runs) are left out. Sorted by timestamp, then name.
 * Never throws: an unreadable root gives [].
 */
export function findRuns(root: string, maxDepth = 3): RunFolder[] {
  const runs: RunFolder[] = [];
  const visit = (dir: string, depth: number, parentHasEvents: boolean): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const files = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && EVENT_FILE_RE.test(e.name))
      .map((e) => path.join(dir, e.name))
      .sort();
    if (files.length > 0) {
      const rel = path.relative(root, dir);
      const parts = rel === '' ? [] : rel.split(path.sep);
      const run: RunFolder = { dir, name: rel.split(path.sep).join('/'), files };
      // <prefix><timestamp>/<tracker>: the timestamp folder is the parent of the tracker folder
      const all = [...path.resolve(root).split(path.sep), ...parts];
      const tracker = all[all.length - 1];
      const parent = all[all.length - 2];
      const m = parent !== undefined ? RUN_DIR_RE.exec(parent) : null;
      if (m && tracker !== undefined) {
        run.prefix = m[1] ?? '';
        run.timestamp = m[2] ?? '';
        run.tracker = tracker;
      }
      runs.push(run);
    }
    if (depth >= maxDepth) return;
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if ((files.length > 0 || parentHasEvents) && /^\d+(\.\d+)?$/.test(e.name)) continue;
      visit(path.join(dir, e.name), depth + 1, files.length > 0);
    }
  };
  visit(root, 0, false);
  runs.sort((a, b) => (a.timestamp ?? '').localeCompare(b.timestamp ?? '') || a.name.localeCompare(b.name));
  return runs;
}

/**
 * Reads every event file of a run incrementally; `read()` returns the scalars appended to any of
 * them, and picks up event files that appear later (a resumed run adds one).
 */
export class RunReader {
  private readonly readers = new Map<string, EventFileReader>();
  constructor(
    readonly dir: string,
    private readonly options: { checkCrc?: boolean } = {},
  ) {}

  read(): RunReadResult {
    return this.readInto(undefined);
  }

  /** Like read(), into a sink (e.g. a SeriesCollector kept by the run panel). */
  readInto(sink: ScalarSink | undefined): RunReadResult {
    const out: RunReadResult = { scalars: [], points: 0, corrupt: [], errors: [] };
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir).filter((n) => EVENT_FILE_RE.test(n)).sort();
    } catch (e) {
      out.errors.push({ file: this.dir, message: (e as Error).message });
    }
    for (const n of names) {
      const f = path.join(this.dir, n);
      if (!this.readers.has(f)) this.readers.set(f, new EventFileReader(f, this.options));
    }
    for (const [f, r] of this.readers) {
      const res = r.readInto(sink);
      out.points += res.points;
      for (const s of res.scalars) out.scalars.push(s);
      for (const c of res.corrupt) out.corrupt.push(c);
      if (res.error !== undefined) out.errors.push({ file: f, message: res.error });
    }
    return out;
  }
}

export interface RunReadResult {
  scalars: ScalarPoint[];
  points: number;
  corrupt: CorruptRecord[];
  errors: { file: string; message: string }[];
}

/** Groups points by tag into columns (what a chart wants). Keeps the order of arrival. */
export function groupByTag(points: readonly ScalarPoint[]): Map<string, ScalarSeries> {
  const c = new SeriesCollector();
  for (const p of points) c.add(p.tag, p.step, p.wallTime, p.value);
  return c.series();
}

// ---------------------------------------------------------------------------------------------
// writing (tests, the stand-in trainer, benchmarks)

class Writer {
  private buf = new Uint8Array(64);
  private dv = new DataView(this.buf.buffer);
  private n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  byte(v: number): void {
    this.room(1);
    this.buf[this.n++] = v & 0xff;
  }
  varint(v: number): void {
    if (v < 0) {
      // int64 two's complement, 10 bytes
      let big = BigInt.asUintN(64, BigInt(Math.trunc(v)));
      while (big >= 0x80n) {
        this.byte(Number(big & 0x7fn) | 0x80);
        big >>= 7n;
      }
      this.byte(Number(big));
      return;
    }
    let n = Math.trunc(v);
    while (n >= 0x80) {
      this.byte((n % 128) | 0x80);
      n = Math.floor(n / 128);
    }
    this.byte(n);
  }
  key(field: number, wt: number): void {
    this.varint(field * 8 + wt);
  }
  bytes(field: number, data: Uint8Array): void {
    this.key(field, 2);
    this.varint(data.length);
    this.room(data.length);
    this.buf.set(data, this.n);
    this.n += data.length;
  }
  f64(field: number, v: number): void {
    this.key(field, 1);
    this.room(8);
    this.dv.setFloat64(this.n, v, true);
    this.n += 8;
  }
  f32(field: number, v: number): void {
    this.key(field, 5);
    this.room(4);
    this.dv.setFloat32(this.n, v, true);
    this.n += 4;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

const UTF8 = new TextEncoder();

export interface EventToWrite {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  /** simple_value scalars (the form sd-scripts' writer uses) */
  scalars?: { tag: string; value: number }[];
  /** TF2-style scalars: a 0-d float tensor with plugin `scalars` */
  tensorScalars?: { tag: string; value: number; dtype?: 'float' | 'double' }[];
}

/** Serializes an Event protobuf. */
export function encodeEvent(ev: EventToWrite): Uint8Array {
  const w = new Writer();
  w.f64(1, ev.wallTime);
  if (ev.step) {
    w.key(2, 0);
    w.varint(ev.step);
  }
  if (ev.fileVersion !== undefined) w.bytes(3, UTF8.encode(ev.fileVersion));
  const values: Uint8Array[] = [];
  for (const s of ev.scalars ?? []) {
    const v = new Writer();
    v.bytes(1, UTF8.encode(s.tag));
    v.f32(2, s.value);
    values.push(v.done());
  }
  for (const s of ev.tensorScalars ?? []) {
    const t = new Writer();
    const dbl = s.dtype === 'double';
    t.key(1, 0);
    t.varint(dbl ? DT_DOUBLE : DT_FLOAT);
    t.bytes(2, new Uint8Array(0));
    const content = Buffer.alloc(dbl ? 8 : 4);
    if (dbl) content.writeDoubleLE(s.value);
    else content.writeFloatLE(s.value);
    t.bytes(4, content);
    const plugin = new Writer();
    plugin.bytes(1, UTF8.encode('scalars'));
    const meta = new Writer();
    meta.bytes(1, plugin.done());
    const v = new Writer();
    v.bytes(1, UTF8.encode(s.tag));
    v.bytes(9, meta.done());
    v.bytes(8, t.done());
    values.push(v.done());
  }
  if (values.length) {
    const sum = new Writer();
    for (const v of values) sum.bytes(1, v);
    w.bytes(5, sum.done());
  }
  return w.done();
}

/** Frames data as one TFRecord. */
export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  const len = data.length;
  out.writeUInt32LE(len >>> 0, 0);
  out.writeUInt32LE(Math.floor(len / TWO_32), 4);
  out.writeUInt32LE(maskedCrc32c(out, 0, 8), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + len);
  return out;
}

/** An event file name as TensorBoard writers make it: events.out.tfevents.<secs>.<host>.<pid>.<n> */
export function eventFileName(wallTime: number, host = 'localhost', pid = process.pid, n = 0): string {
  return `events.out.tfevents.${Math.floor(wallTime)}.${host}.${pid}.${n}`;
}

/** Appends events to a file, starting with the `brain.Event:2` header record, as SummaryWriter does. */
export class EventFileWriter {
  constructor(
    readonly file: string,
    wallTime = Date.now() / 1000,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, frameRecord(encodeEvent({ wallTime, fileVersion: 'brain.Event:2' })));
  }
  scalar(tag: string, value: number, step: number, wallTime = Date.now() / 1000): void {
    fs.appendFileSync(this.file, frameRecord(encodeEvent({ wallTime, step, scalars: [{ tag, value }] })));
  }
  append(ev: EventToWrite): void {
    fs.appendFileSync(this.file, frameRecord(encodeEvent(ev)));
  }
}
