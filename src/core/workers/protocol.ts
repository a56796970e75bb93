/**
 * Messages between the extension host and its worker processes (native modules such as sharp
 * and onnxruntime-node run there, so a crash in them cannot take the extension host down).
 */
export interface NativeProbeResult {
  type: 'nativeProbe';
  node: string;
  platform: string;
  sharp: { ok: true; version: string; libvips: string; decodedPixels: number } | { ok: false; error: string };
  onnxruntime: { ok: true; version: string; backends: string[] } | { ok: false; error: string };
}

export type WorkerReply = NativeProbeResult | { type: 'error'; message: string };
