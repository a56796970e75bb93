/**
 * `lwb`: the LoRA Workbench checks on the command line, over the same `src/core` code the
 * extension uses. Runs with plain `node dist/cli/lwb.js`.
 *
 * Exit codes: 0 ok · 1 the check found a problem · 2 usage error · 3 input missing or unreadable
 * · 70 internal error.
 */
import { runScan, SCAN_HELP } from './scanCommand';
import { runBuckets, BUCKETS_HELP } from './bucketsCommand';
import { runTfevents, TFEVENTS_HELP } from './tfeventsCommand';
import { runLint, LINT_HELP } from './lintCommand';
import { runTags, TAGS_HELP } from './tagsCommand';
import { runTag, TAG_HELP } from './tagCommand';
import { runMergeMetadata, MERGE_METADATA_HELP } from './mergeMetadataCommand';
import { runCheckConfig, CHECK_CONFIG_HELP } from './checkConfigCommand';
import { EXIT, UsageError, type CliIo } from './io';

declare const __LWB_VERSION__: string;
const VERSION = typeof __LWB_VERSION__ === 'string' ? __LWB_VERSION__ : '0.0.0-dev';

export interface CliCommand {
  /** one line for `lwb --help`, e.g. 'scan <folder>' */
  usage: string;
  summary: string;
  help: string;
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** Every command; each lives in its own src/cli/<name>Command.ts. */
export const COMMANDS: Record<string, CliCommand> = {
  'check-config': {
    usage: 'check-config <config.toml>',
    summary: 'Check a kohya training config, dataset config or sample-prompt file as sd-scripts reads it',
    help: CHECK_CONFIG_HELP,
    run: runCheckConfig,
  },
  tag: {
    usage: 'tag <path> --model <folder>',
    summary: 'Tag images with a WD14 ONNX model, like sd-scripts\' tag_images_by_wd14_tagger.py',
    help: TAG_HELP,
    run: runTag,
  },
  'merge-metadata': {
    usage: 'merge-metadata <folder> <out.json>',
    summary: 'Merge captions and tags into fine-tuning metadata (meta_clean.json) with full-path keys',
    help: MERGE_METADATA_HELP,
    run: runMergeMetadata,
  },
  buckets: {
    usage: 'buckets <folder> --resolution W,H',
    summary: "Show each image's bucket and the bucket table as sd-scripts computes them (--into-meta: write them into metadata)",
    help: BUCKETS_HELP,
    run: runBuckets,
  },
  lint: {
    usage: 'lint <folder>',
    summary: 'Check caption/tag files: trigger word, tag pollution, files that stop training',
    help: LINT_HELP,
    run: runLint,
  },
  tags: {
    usage: 'tags <action> <folder>',
    summary: 'Add, remove, replace or reorder tags across a dataset, with undo',
    help: TAGS_HELP,
    run: runTags,
  },
  scan: {
    usage: 'scan <folder>',
    summary: 'List images and their caption/tag sidecar files as sd-scripts pairs them',
    help: SCAN_HELP,
    run: runScan,
  },
  tfevents: {
    usage: 'tfevents <file|folder>',
    summary: 'Print the scalars (loss, learning rates) of TensorBoard event files',
    help: TFEVENTS_HELP,
    run: runTfevents,
  },
};

export function mainHelp(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length)) + 2;
  const lines = Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}${c.summary}`);
  return `lwb ${VERSION}: LoRA Workbench checks for kohya sd-scripts datasets and configs

Usage: lwb <command> [options]

Commands:
${lines.join('\n')}

Global options:
  -h, --help        Show help (also: lwb <command> --help)
  -v, --version     Print the version
      --json        Machine-readable output on stdout

Exit codes: 0 ok, 1 problem found, 2 usage error, 3 input missing or unreadable, 70 internal error
`;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const cmd = command === undefined ? undefined : COMMANDS[command];
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      io.out(mainHelp());
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (command === '-v' || command === '--version') {
      io.out(`${VERSION}\n`);
      return EXIT.ok;
    }
    if (!cmd || !Object.prototype.hasOwnProperty.call(COMMANDS, command)) {
      throw new UsageError(`unknown command '${command}'`);
    }
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`lwb: ${e.message}\n`);
      io.err(cmd ? cmd.help : `Run 'lwb --help' for the commands.\n`);
      return EXIT.usage;
    }
    io.err(`lwb: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.internal;
  }
}

if (require.main === module) {
  const io: CliIo = {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`lwb: internal error: ${String(e)}\n`);
      process.exitCode = EXIT.internal;
    },
  );
}
