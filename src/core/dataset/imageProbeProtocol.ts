/**
 * Messages of the image worker (src/workers/imageProbe.ts), which decodes images with sharp in
 * its own process: a small grayscale thumbnail for the perceptual hash, plus what the full decode
 * says (a JPEG with a good header but cut-short data fails here).
 */

export interface ImageProbeRequest {
  type: 'imageProbeRequest';
  files: string[];
  /** images decoded at once (default 4) */
  concurrency?: number;
  /** decode the whole image to catch truncated data (default true; slower) */
  fullDecode?: boolean;
}

export interface ImageProbeItem {
  file: string;
  ok: boolean;
  /** the decoder's message when it failed */
  error?: string;
  /** sharp's metadata */
  format?: string;
  width?: number;
  height?: number;
  channels?: number;
  hasAlpha?: boolean;
  /** 'uchar' | 'ushort' … */
  depth?: string;
  space?: string;
  pages?: number;
  orientation?: number;
  /** 9×8 grayscale pixels, row-major (for dHash) */
  gray?: number[];
  /** dHash of `gray` (16 hex digits) */
  dhash?: string;
  /** mean and standard deviation of the grayscale thumbnail (0–255): flat/blank images */
  mean?: number;
  stdev?: number;
}

export interface ImageProbeReply {
  type: 'imageProbe';
  sharp: string;
  items: ImageProbeItem[];
}

export type ImageProbeWorkerReply = ImageProbeReply | { type: 'error'; message: string };
