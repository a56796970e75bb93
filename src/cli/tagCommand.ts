import * as path from 'node:path';
import { listImagesForTagging, tagImages, type TagRunResult } from '../core/tagger/run';
import { DEFAULT_SEPARATOR, DEFAULT_TAG_EXTENSION, DEFAULT_THRESH, type TaggerOptions } from '../core/tagger/postprocess';
import { EXIT, UsageError, type CliIo, parseCommandArgs } from './io';

export const TAG_HELP = `Usage: lwb tag <folder or image> --model <folder> [options]

Tags images with a WD14 ONNX model, like sd-scripts' finetune/tag_images_by_wd14_tagger.py,
without Python: the tag file next to each image (same name, --caption_extension) is written
atomically. The model folder holds model.onnx and selected_tags.csv (SmilingWolf layout, v2 or
v3); its input size is read from the model. Options use sd-scripts' names.

Options:
  --model <folder>                 The model folder (required)
  --recursive                      Also tag images in subfolders
  --batch_size <n>                 Images per inference run (default 1)
  --provider <cpu|cuda>            Execution provider (default cpu)
  --thresh <x>                     Default threshold of both categories (default ${DEFAULT_THRESH})
  --general_threshold <x>          Threshold of general tags (default: --thresh)
  --character_threshold <x>        Threshold of character tags (default: --thresh; above 1: none)
  --remove_underscore              "long_hair" → "long hair" (tags of 3 characters or fewer keep theirs)
  --undesired_tags <a,b>           Tags never written
  --character_tags_first           Character tags before general tags
  --character_tag_expand           "name_(series)" → "name, series"
  --always_first_tags <a,b>        Put these first when present (no spaces after the commas)
  --tag_replacement <a,b;c,d>      Rename tags (\\, and \\; escape); the intended behaviour, which
                                   sd-scripts currently loses for SmilingWolf models
  --use_rating_tags                Write the rating first
  --use_rating_tags_as_last_tag    Write the rating last
  --append_tags                    Keep the existing tags and add the new ones after them
  --caption_extension <.txt>       Extension of the tag files (default ${DEFAULT_TAG_EXTENSION})
  --caption_separator <", ">       Between tags (default "${DEFAULT_SEPARATOR}")
  --frequency_tags                 Print how often each tag was written
  --skip-existing                  Leave images whose tag file exists and is not blank
  --dry-run                        Tag, but write nothing
  --debug                          Print each image's tags
  --json                           Print the run as JSON
  -h, --help                       Show this help

Exit codes: 0 all images tagged, 1 some images could not be tagged (listed), 2 usage error,
3 folder, image or model missing or unusable (nothing is written then).
`;

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} takes a number, not '${v}'`);
  return n;
}

/** Where the bundled worker sits next to the CLI bundle (dist/cli/lwb.js → dist/workers/tagger.js). */
export function taggerWorkerPath(): string {
  return process.env.LWB_TAGGER_WORKER ?? path.join(__dirname, '..', 'workers', 'tagger.js');
}

export async function runTag(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    model: { type: 'string' },
    recursive: { type: 'boolean', default: false },
    batch_size: { type: 'string' },
    provider: { type: 'string' },
    thresh: { type: 'string' },
    general_threshold: { type: 'string' },
    character_threshold: { type: 'string' },
    remove_underscore: { type: 'boolean', default: false },
    undesired_tags: { type: 'string' },
    character_tags_first: { type: 'boolean', default: false },
    character_tag_expand: { type: 'boolean', default: false },
    always_first_tags: { type: 'string' },
    tag_replacement: { type: 'string' },
    use_rating_tags: { type: 'boolean', default: false },
    use_rating_tags_as_last_tag: { type: 'boolean', default: false },
    append_tags: { type: 'boolean', default: false },
    caption_extension: { type: 'string' },
    caption_extention: { type: 'string' },
    caption_separator: { type: 'string' },
    frequency_tags: { type: 'boolean', default: false },
    'skip-existing': { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    debug: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.out(TAG_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'tag needs a folder or an image' : 'tag takes one folder or image');
  if (!v.model) throw new UsageError('tag needs --model <folder> (the folder with model.onnx and selected_tags.csv)');
  if (v.provider !== undefined && v.provider !== 'cpu' && v.provider !== 'cuda') throw new UsageError(`--provider is cpu or cuda, not '${v.provider}'`);
  const batch = num('batch_size', v.batch_size);
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1)) throw new UsageError('--batch_size takes a whole number of at least 1');
  const ext = v.caption_extension ?? v.caption_extention;
  const options: TaggerOptions = {
    remove_underscore: v.remove_underscore,
    character_tags_first: v.character_tags_first,
    character_tag_expand: v.character_tag_expand,
    use_rating_tags: v.use_rating_tags,
    use_rating_tags_as_last_tag: v.use_rating_tags_as_last_tag,
    append_tags: v.append_tags,
  };
  const t = num('thresh', v.thresh);
  const g = num('general_threshold', v.general_threshold);
  const c = num('character_threshold', v.character_threshold);
  if (t !== undefined) options.thresh = t;
  if (g !== undefined) options.general_threshold = g;
  if (c !== undefined) options.character_threshold = c;
  if (v.undesired_tags !== undefined) options.undesired_tags = v.undesired_tags;
  if (v.always_first_tags !== undefined) options.always_first_tags = v.always_first_tags;
  if (v.tag_replacement !== undefined) options.tag_replacement = v.tag_replacement;
  if (ext !== undefined) options.caption_extension = ext;
  if (v.caption_separator !== undefined) options.caption_separator = v.caption_separator;

  const target = positionals[0] as string;
  const list = await listImagesForTagging(target, v.recursive);
  if (list.error) {
    if (v.json) io.out(JSON.stringify({ error: { message: list.error } }, null, 2) + '\n');
    io.err(`lwb tag: ${list.error}\n`);
    return EXIT.input;
  }
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      io.err('lwb tag: stopping after the current batch (Ctrl-C again to quit now)\n');
      ac.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  let result: TagRunResult;
  const started = performance.now();
  try {
    result = await tagImages(list.images, {
      modelDir: v.model,
      workerScript: taggerWorkerPath(),
      options,
      batchSize: batch ?? 1,
      provider: v.provider === 'cuda' ? 'cuda' : 'cpu',
      skipExisting: v['skip-existing'],
      dryRun: v['dry-run'],
      signal: ac.signal,
      onReady: (ready, model) => {
        if (!v.json) {
          io.err(`lwb tag: ${model.dir} (${model.version}, ${ready.size}×${ready.size}, ${model.tags.general.length} general + ${model.tags.character.length} character tags) on ${ready.provider}, batch ${ready.batchSize}\n`);
          for (const w of ready.warnings) io.err(`lwb tag: warning: ${w}\n`);
        }
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  const seconds = (performance.now() - started) / 1000;
  if (v.json) {
    io.out(
      JSON.stringify(
        {
          model: result.model && { dir: result.model.dir, size: result.model.size, version: result.model.version, warnings: result.model.warnings },
          provider: result.ready?.provider,
          batchSize: result.ready?.batchSize,
          tagged: result.tagged.map((x) => ({ image: x.image, captionFile: x.captionFile, tags: x.tags, text: x.text, written: x.written, rating: x.rating, scores: x.scored, imageSize: x.imageSize })),
          skipped: result.skipped,
          failed: result.failed,
          cancelled: result.cancelled,
          error: result.error,
          frequency: result.frequency,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    if (v.debug) for (const x of result.tagged) io.out(`${x.image}\n  ${x.text}`);
    if (v.frequency_tags) {
      io.out('Tag frequencies:\n');
      for (const [tag, n] of Object.entries(result.frequency).sort((a, b) => b[1] - a[1])) io.out(`${tag}: ${n}\n`);
    }
    const rate = result.tagged.length && seconds > 0 ? `, ${(result.tagged.length / seconds).toFixed(1)} images/s` : '';
    // a run that stopped before the model was ready has nothing to sum up (the error follows)
    if (!result.error || result.ready) io.out(
      `${v['dry-run'] ? 'would tag' : 'tagged'} ${result.tagged.length} image${result.tagged.length === 1 ? '' : 's'}` +
        `${result.skipped.length ? `, ${result.skipped.length} skipped (already tagged)` : ''}` +
        `${result.failed.length ? `, ${result.failed.length} failed` : ''}${result.cancelled ? ', cancelled' : ''} in ${seconds.toFixed(1)} s${rate}\n`,
    );
  }
  for (const f of result.failed) io.err(`lwb tag: ${f.image}: ${f.error}\n`);
  if (result.error) {
    io.err(`lwb tag: ${result.error}\n`);
    return result.model && result.ready ? EXIT.problem : EXIT.input;
  }
  if (list.images.length === 0) {
    io.err(`lwb tag: no image sd-scripts would tag in ${path.resolve(target)}${v.recursive ? '' : ' (use --recursive for subfolders)'}\n`);
    return EXIT.problem;
  }
  return result.failed.length ? EXIT.problem : EXIT.ok;
}
