/**
 * Decides whether a `.txt`/`.caption` file is a kohya caption/tag sidecar or a sample-prompt
 * file, so the editor can give it our language without claiming every `.txt` in the workspace.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { KOHYA_IMAGE_EXTENSIONS, extensionOf, normaliseSidecarExtension, stemOf } from './images';

export type TextFileKind = 'caption' | 'samplePrompts' | undefined;

const IMAGE_NAMES = (stem: string): string[] =>
  KOHYA_IMAGE_EXTENSIONS.flatMap((e) => [`${stem}${e}`, `${stem}${e.toUpperCase()}`]);

/** The image next to `file` with the same stem, if any (as sd-scripts pairs them). */
export async function siblingImage(file: string): Promise<string | undefined> {
  const dir = path.dirname(file);
  const stem = stemOf(path.basename(file));
  for (const name of IMAGE_NAMES(stem)) {
    try {
      const st = await fsp.stat(path.join(dir, name));
      if (st.isFile()) return path.join(dir, name);
    } catch {
      // not there
    }
  }
  return undefined;
}

/** sd-scripts' .txt prompt format: a prompt line with options such as `--n`, `--w 1024`. */
export function looksLikeSamplePrompts(text: string): boolean {
  let promptLines = 0;
  for (const line of text.split(/\r?\n/).slice(0, 200)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    if (/\s--(?:n|w|h|d|l|s|ss|f|t|g|am|cn)\s/.test(`${t} `)) promptLines++;
  }
  return promptLines > 0;
}

/**
 * `caption` when an image with the same stem sits next to it (for the configured sidecar
 * extensions); `samplePrompts` for a `.txt` without an image whose name mentions "prompt" and
 * whose lines carry sd-scripts' prompt options; otherwise undefined.
 */
export async function classifyTextFile(
  file: string,
  text: string,
  sidecarExtensions: readonly string[],
): Promise<TextFileKind> {
  const ext = extensionOf(path.basename(file));
  if (sidecarExtensions.map(normaliseSidecarExtension).includes(ext) && (await siblingImage(file))) return 'caption';
  if (ext.toLowerCase() === '.txt' && /prompt/i.test(path.basename(file)) && looksLikeSamplePrompts(text)) {
    return 'samplePrompts';
  }
  return undefined;
}
