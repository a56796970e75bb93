/**
 * Which files sd-scripts treats as training images.
 *
 * sd-scripts' IMAGE_EXTENSIONS is `.png .jpg .jpeg .webp .bmp` plus their upper-case spellings,
 * matched exactly: `photo.Png` is not loaded. `.avif` and `.jxl` are loaded only when optional
 * Pillow plugins are installed, so we list them separately.
 */
export const KOHYA_IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp', '.bmp'];
export const OPTIONAL_PLUGIN_EXTENSIONS: readonly string[] = ['.avif', '.jxl'];

export type ImageKind =
  /** sd-scripts loads it */
  | 'image'
  /** an image extension in mixed case (`.Png`), which sd-scripts' exact match skips */
  | 'mixedCase'
  /** `.avif` / `.jxl`: loaded only with pillow_avif / jxlpy / pillow_jxl installed */
  | 'needsPlugin'
  | 'notImage';

/** The extension of a file name including the dot, or '' (dot files have none). */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot) : '';
}

/** The name without its last extension. */
export function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

export function classifyImageName(name: string): ImageKind {
  const ext = extensionOf(name);
  if (!ext) return 'notImage';
  const lower = ext.toLowerCase();
  if (KOHYA_IMAGE_EXTENSIONS.includes(lower)) {
    return ext === lower || ext === ext.toUpperCase() ? 'image' : 'mixedCase';
  }
  if (OPTIONAL_PLUGIN_EXTENSIONS.includes(lower)) return 'needsPlugin';
  return 'notImage';
}

/** Normalises a caption extension the way sd-scripts does: a missing leading dot is added. */
export function normaliseSidecarExtension(ext: string): string {
  const t = ext.trim();
  return t.startsWith('.') ? t : `.${t}`;
}
