/**
 * Reads the graph inputs and outputs (names, element types, shapes) of an `.onnx` file without
 * onnxruntime: a small protobuf reader that seeks over node and weight payloads, so a 400 MB WD14
 * model costs a few kilobytes of reads. Used to inspect a model folder before anything starts.
 */
import { promises as fsp } from 'node:fs';

export type Dim = number | string;

export interface OnnxValueInfo {
  name: string;
  /** ONNX TensorProto.DataType (1 = float). */
  elemType: number;
  /** Empty when the model does not declare it; symbolic dims are strings. */
  shape: Dim[];
}

export interface OnnxInfo {
  irVersion: number;
  opsetVersion: number | undefined;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

class Reader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(
    private readonly fh: import('node:fs/promises').FileHandle,
    readonly size: number,
  ) {}

  private async ensure(n: number): Promise<void> {
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return;
    const len = Math.max(n, 1 << 16);
    const b = Buffer.alloc(Math.min(len, Math.max(0, this.size - this.pos)));
    const { bytesRead } = await this.fh.read(b, 0, b.length, this.pos);
    this.buf = b.subarray(0, bytesRead);
    this.bufStart = this.pos;
    if (bytesRead < n) throw new Error('unexpected end of file');
  }

  async byte(): Promise<number> {
    await this.ensure(1);
    const v = this.buf[this.pos - this.bufStart] as number;
    this.pos++;
    return v;
  }

  async varint(): Promise<number> {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = await this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new Error('bad varint');
  }

  async bytes(n: number): Promise<Buffer> {
    await this.ensure(n);
    const off = this.pos - this.bufStart;
    this.pos += n;
    return Buffer.from(this.buf.subarray(off, off + n));
  }

  async skip(wire: number): Promise<void> {
    if (wire === 0) await this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else if (wire === 2) {
      const len = await this.varint(); // read before pos: `pos += await …` would use the old pos
      this.pos += len;
    }
    else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (this.pos > this.size) throw new Error('unexpected end of file');
  }

  /** Iterates the fields of a message that ends at `end`. */
  async fields(end: number, fn: (field: number, wire: number) => Promise<boolean>): Promise<void> {
    while (this.pos < end) {
      const key = await this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (!(await fn(field, wire))) await this.skip(wire);
    }
    if (this.pos !== end) throw new Error('malformed protobuf message');
  }
}

async function readString(r: Reader): Promise<string> {
  return (await r.bytes(await r.varint())).toString('utf8');
}

async function readValueInfo(r: Reader, end: number): Promise<OnnxValueInfo> {
  const info: OnnxValueInfo = { name: '', elemType: 0, shape: [] };
  await r.fields(end, async (f, w) => {
    if (f === 1 && w === 2) info.name = await readString(r);
    else if (f === 2 && w === 2) {
      const typeEnd = (await r.varint()) + r.pos;
      await r.fields(typeEnd, async (tf, tw) => {
        if (tf !== 1 || tw !== 2) return false;
        const tensorEnd = (await r.varint()) + r.pos;
        await r.fields(tensorEnd, async (xf, xw) => {
          if (xf === 1 && xw === 0) info.elemType = await r.varint();
          else if (xf === 2 && xw === 2) {
            const shapeEnd = (await r.varint()) + r.pos;
            await r.fields(shapeEnd, async (sf, sw) => {
              if (sf !== 1 || sw !== 2) return false;
              const dimEnd = (await r.varint()) + r.pos;
              let dim: Dim = '?';
              await r.fields(dimEnd, async (df, dw) => {
                if (df === 1 && dw === 0) dim = await r.varint();
                else if (df === 2 && dw === 2) dim = await readString(r);
                else return false;
                return true;
              });
              info.shape.push(dim);
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return info;
}

/** Reads an ONNX model's interface. Never throws: a file that is not ONNX gives `ok: false`. */
export async function readOnnxInfo(file: string): Promise<{ ok: true; info: OnnxInfo } | { ok: false; error: string }> {
  let fh: import('node:fs/promises').FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
    const size = (await fh.stat()).size;
    const r = new Reader(fh, size);
    const info: OnnxInfo = { irVersion: 0, opsetVersion: undefined, inputs: [], outputs: [] };
    const initializers = new Set<string>();
    let sawGraph = false;
    await r.fields(size, async (f, w) => {
      if (f === 1 && w === 0) info.irVersion = await r.varint();
      else if (f === 8 && w === 2) {
        const end = (await r.varint()) + r.pos;
        let domain = '';
        let version: number | undefined;
        await r.fields(end, async (of, ow) => {
          if (of === 1 && ow === 2) domain = await readString(r);
          else if (of === 2 && ow === 0) version = await r.varint();
          else return false;
          return true;
        });
        if (domain === '' || domain === 'ai.onnx') info.opsetVersion = version;
      } else if (f === 7 && w === 2) {
        sawGraph = true;
        const graphEnd = (await r.varint()) + r.pos;
        await r.fields(graphEnd, async (gf, gw) => {
          if ((gf === 11 || gf === 12) && gw === 2) {
            const end = (await r.varint()) + r.pos;
            (gf === 11 ? info.inputs : info.outputs).push(await readValueInfo(r, end));
          } else if (gf === 5 && gw === 2) {
            const end = (await r.varint()) + r.pos;
            await r.fields(end, async (tf, tw) => {
              if (tf === 8 && tw === 2) {
                initializers.add(await readString(r));
                return true;
              }
              return false;
            });
          } else return false;
          return true;
        });
      } else return false;
      return true;
    });
    if (!sawGraph) return { ok: false, error: `${file} is not an ONNX model (no graph)` };
    // before IR version 4 the weights were listed as graph inputs too
    info.inputs = info.inputs.filter((i) => !initializers.has(i.name));
    return { ok: true, info };
  } catch (e) {
    return { ok: false, error: `${file} could not be read as an ONNX model: ${(e as Error).message}` };
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
