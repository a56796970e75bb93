/**
 * Messages of the image-audit worker (src/workers/imageAudit.ts). It reads headers, lists
 * folders the way the index does, and decodes images with sharp (perceptual hashes, fixes), in its
 * own process, so the extension host never loads sharp nor blocks on 100,000 reads.
 */
import type { AuditImage } from './audit';
import type { AuditedFolder } from './auditSession';

export interface AuditWorkerRequest {
  type: 'auditRequest';
  /** folders audited whole (their images, stray captions and issues), depth 0 */
  folders: string[];
  /** single image files (after a change): header and perceptual hash only */
  files: string[];
  sidecarExtensions: string[];
  /** decode every image for a perceptual hash (near duplicates, decode errors) */
  perceptual: boolean;
  /** images decoded at once (default 2) */
  concurrency?: number;
}

export interface AuditWorkerProgress {
  type: 'progress';
  phase: 'reading' | 'decoding';
  done: number;
  total: number;
}

export interface AuditWorkerResult {
  type: 'auditResult';
  folders: AuditedFolder[];
  files: AuditImage[];
  /** sharp's version, or why it could not be loaded (then no perceptual hashes) */
  sharp: string;
}

export type TransformOp =
  /** rotate/flip the pixels upright as the EXIF orientation says, and drop the tag */
  | 'rotateExif'
  /** 8-bit sRGB without alpha (flattened on white), same format family (JPEG stays JPEG, else PNG) */
  | 'toRgb8';

export interface TransformRequest {
  type: 'transformRequest';
  op: TransformOp;
  file: string;
  /** where the worker writes the result (the host puts it in place through the journal) */
  out: string;
}

export interface TransformResult {
  type: 'transformResult';
  out: string;
  format: string;
  width: number;
  height: number;
}

export type AuditWorkerRequestMessage = AuditWorkerRequest | TransformRequest;
export type AuditWorkerMessage = AuditWorkerProgress | AuditWorkerResult | TransformResult | { type: 'error'; message: string };
