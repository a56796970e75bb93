/**
 * Worker: loads sharp and onnxruntime-node, proves each works, and reports their versions.
 * Started by the "Check Image and ONNX Runtimes" command and by the tests; never loaded into the
 * extension host.
 */
import type { NativeProbeResult, WorkerReply } from '../core/workers/protocol';

async function probe(): Promise<NativeProbeResult> {
  const result: NativeProbeResult = {
    type: 'nativeProbe',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    sharp: { ok: false, error: 'not tried' },
    onnxruntime: { ok: false, error: 'not tried' },
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sharp = require('sharp') as typeof import('sharp').default;
    // decode a real (generated) PNG to prove libvips works, not just that the module loads
    const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const { info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    result.sharp = {
      ok: true,
      version: sharp.versions.sharp ?? 'unknown',
      libvips: sharp.versions.vips,
      decodedPixels: info.width * info.height,
    };
  } catch (e) {
    result.sharp = { ok: false, error: (e as Error).message };
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    result.onnxruntime = {
      ok: true,
      version: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown',
      backends: ort.listSupportedBackends().map((b) => b.name),
    };
  } catch (e) {
    result.onnxruntime = { ok: false, error: (e as Error).message };
  }
  return result;
}

function reply(msg: WorkerReply): void {
  if (process.send) process.send(msg, () => process.exit(0));
  else {
    process.stdout.write(JSON.stringify(msg) + '\n');
    process.exit(0);
  }
}

probe().then(reply, (e: unknown) => reply({ type: 'error', message: String(e) }));
