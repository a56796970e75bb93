/** Which kohya file a text is, and which other files a training config points to. */
import { parseTomlDocument, type TomlDocument } from './document';
import { OPTION_MAP, PATH_OPTIONS } from './options';
import { flattenTrainingConfig } from './training';
import type { ConfigKind, OffsetRange } from './types';

const HEADER_RE = /^[ \t]*(\[\[?)[ \t]*([A-Za-z0-9_.\-"' ]+?)[ \t]*\]\]?/gm;
const TXT_OPTION_RE = / --(n|w|h|d|l|s|ss) \S/i;

/**
 * Detects the kind of a file by its content (and extension): dataset configs have [general] /
 * [[datasets]], sample-prompt TOML has [prompt] / [[prompt.subset]], sample-prompt .txt lines use
 * --n --w --h --d --l --s, training configs use known option keys. Other files: undefined.
 */
export function detectConfigKind(fileName: string, rawText: string): ConfigKind | undefined {
  try {
    const text = rawText.replace(/^\ufeff/, '');
    const lower = fileName.toLowerCase();
    if (lower.endsWith('.txt')) {
      const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
      if (lines.length === 0) return undefined;
      const withOptions = lines.filter((l) => TXT_OPTION_RE.test(l)).length;
      return withOptions > 0 && withOptions >= lines.length / 2 ? 'samplePrompts' : undefined;
    }
    if (!lower.endsWith('.toml')) return undefined;
    const headers = new Set<string>();
    for (const m of text.matchAll(HEADER_RE)) headers.add(`${m[1]}${(m[2] ?? '').replace(/["'\s]/g, '')}`);
    if (headers.has('[prompt') || headers.has('[[prompt.subset')) return 'samplePrompts';
    if (headers.has('[general') || headers.has('[[datasets') || headers.has('[datasets') || headers.has('[[datasets.subsets')) return 'dataset';
    // keys: count known sd-scripts options among the `key =` lines
    let known = 0;
    let total = 0;
    for (const m of text.matchAll(/^[ \t]*([A-Za-z0-9_\-]+)[ \t]*=/gm)) {
      total++;
      if (OPTION_MAP.has(m[1] ?? '')) known++;
    }
    if (known >= 2 || (known === 1 && total <= 2)) return 'training';
    return undefined;
  } catch {
    return undefined;
  }
}

export interface ReferencedFile {
  /** the option that names the file, e.g. 'dataset_config' */
  option: string;
  path: string;
  /** offsets of the string value, quotes included */
  offsets: OffsetRange;
  /** the kind of file it is, when it is one we understand */
  kind?: ConfigKind;
  expects: 'file' | 'dir' | 'fileOrDir' | 'model' | 'outDir' | 'outFile';
}

/** The files and folders a training config refers to (dataset_config, sample_prompts, train_data_dir …). */
export function referencedFiles(text: string | TomlDocument): ReferencedFile[] {
  try {
    const doc = typeof text === 'string' ? parseTomlDocument(text) : text;
    const out: ReferencedFile[] = [];
    for (const f of flattenTrainingConfig(doc)) {
      const expects = PATH_OPTIONS[f.name];
      if (!expects) continue;
      const items = f.value.kind === 'array' ? f.value.items : [f.value];
      for (const v of items) {
        if (v.kind !== 'string' || v.value === '') continue;
        const r: ReferencedFile = { option: f.name, path: v.value, offsets: v.offsets, expects };
        if (f.name === 'dataset_config') r.kind = 'dataset';
        if (f.name === 'sample_prompts') r.kind = 'samplePrompts';
        out.push(r);
      }
    }
    return out;
  } catch {
    return [];
  }
}
