import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { checkMetadataKeys, mergeCaptionsAndTags, readMetadata, writeMetadata, type Metadata } from '../core/dataset/metadata';
import { EXIT, UsageError, type CliIo, parseCommandArgs } from './io';

export const MERGE_METADATA_HELP = `Usage: lwb merge-metadata <image folder> <out.json> [options]
       lwb merge-metadata --check <image folder> <metadata.json>

Writes fine-tuning metadata (meta_clean.json) like sd-scripts' merge_captions_to_metadata.py
followed by merge_dd_tags_to_metadata.py: "caption" from each image's caption file and "tags"
from its tag file, keyed by the image's full path. If <out.json> exists it is read first and
updated (as sd-scripts does when --in_json is not given). The file is replaced atomically.

Options:
  --in_json <file>            Start from this metadata instead of <out.json>
  --caption_extension <ext>   Caption files (default .caption)
  --tag_extension <ext>       Tag files (default .txt)
  --recursive                 Also images in subfolders
  --stem-keys                 Bare-stem keys ("1" for 1.png) as sd-scripts writes without
                              --full_path. Current sd-scripts cannot resolve them: avoid.
  --clean                     Apply clean_captions_and_tags.py's rules
  --check                     Write nothing: report the keys of <metadata.json> that current
                              sd-scripts would not resolve to an image of <image folder>
  --json                      Print the result as JSON
  -h, --help                  Show this help

Exit codes: 0 ok, 1 (--check) some keys do not resolve, 2 usage error, 3 folder or metadata
missing or unreadable.
`;

export async function runMergeMetadata(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    in_json: { type: 'string' },
    caption_extension: { type: 'string' },
    tag_extension: { type: 'string' },
    recursive: { type: 'boolean', default: false },
    'stem-keys': { type: 'boolean', default: false },
    clean: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.out(MERGE_METADATA_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 2) throw new UsageError('merge-metadata takes an image folder and a metadata file');
  const [dirArg, outArg] = positionals as [string, string];
  const dir = path.resolve(dirArg);
  const out = path.resolve(outArg);
  if (!existsSync(dir)) {
    io.err(`lwb merge-metadata: ${dir} does not exist\n`);
    return EXIT.input;
  }
  if (v.check) {
    const m = await readMetadata(out);
    if (!m.ok) {
      io.err(`lwb merge-metadata: ${m.error}\n`);
      return EXIT.input;
    }
    const r = await checkMetadataKeys(m.metadata, dir);
    if (v.json) io.out(JSON.stringify({ keys: m.metadata.size, resolved: r.resolved, problems: r.problems }, null, 2) + '\n');
    else {
      for (const p of r.problems) io.out(`${p.reason === 'relativeToCwd' ? 'warning' : 'unresolved'}: ${p.message}\n`);
      io.out(`${m.metadata.size} keys: ${r.resolved} resolve to images, ${m.metadata.size - r.resolved} do not\n`);
    }
    return r.problems.some((p) => p.reason !== 'relativeToCwd') ? EXIT.problem : EXIT.ok;
  }
  let base: Metadata | undefined;
  const baseFile = v.in_json ? path.resolve(v.in_json) : existsSync(out) ? out : undefined;
  if (baseFile) {
    const m = await readMetadata(baseFile);
    if (!m.ok) {
      io.err(`lwb merge-metadata: ${m.error} (nothing was written)\n`);
      return EXIT.input;
    }
    base = m.metadata;
  }
  const r = await mergeCaptionsAndTags(dir, {
    ...(v.caption_extension ? { captionExtension: v.caption_extension } : {}),
    ...(v.tag_extension ? { tagExtension: v.tag_extension } : {}),
    recursive: v.recursive,
    fullPath: !v['stem-keys'],
    clean: v.clean,
    ...(base ? { base } : {}),
  });
  try {
    await writeMetadata(out, r.metadata);
  } catch (e) {
    io.err(`lwb merge-metadata: ${out} could not be written: ${(e as Error).message}\n`);
    return EXIT.input;
  }
  if (v.json) {
    io.out(JSON.stringify({ out, images: r.images, captions: r.captions, tags: r.tags, entries: r.metadata.size, warnings: r.warnings }, null, 2) + '\n');
  } else {
    const shown = r.warnings.slice(0, 20);
    for (const w of shown) io.err(`lwb merge-metadata: ${w.message}\n`);
    if (r.warnings.length > shown.length) io.err(`lwb merge-metadata: … and ${r.warnings.length - shown.length} more warnings\n`);
    io.out(`wrote ${out}: ${r.metadata.size} entries (${r.images} images here, ${r.captions} captions, ${r.tags} tag files)\n`);
  }
  return EXIT.ok;
}
