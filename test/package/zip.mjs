// Lists the entries of a zip file (a VSIX) from its central directory; no dependency needed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

export function listZip(file) {
  const buf = readFileSync(file);
  // end of central directory record: signature 0x06054b50, within the last 64 KiB + 22 bytes
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${n}`);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const method = buf.readUInt16LE(p + 10);
    const localOffset = buf.readUInt32LE(p + 42);
    entries.push({ name: buf.toString('utf8', p + 46, p + 46 + nameLen), size, compressed, method, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return { entries, bytes: buf.length, buf };
}

/** Extracts every file entry (stored or deflated) below `dest`. */
export function extractZip(file, dest) {
  const { entries, buf } = listZip(file);
  const root = resolve(dest);
  for (const e of entries) {
    if (e.name.endsWith('/')) continue;
    const out = resolve(root, e.name);
    if (!out.startsWith(root + sep)) throw new Error(`${e.name} escapes the target folder`);
    const p = e.localOffset;
    if (buf.readUInt32LE(p) !== 0x04034b50) throw new Error(`${file}: bad local header for ${e.name}`);
    const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
    const raw = buf.subarray(start, start + e.compressed);
    const data = e.method === 0 ? raw : e.method === 8 ? inflateRawSync(raw) : null;
    if (!data) throw new Error(`${e.name}: unsupported compression ${e.method}`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, data);
  }
  return join(root, 'extension');
}
