/**
 * The batch tag commands as plain data: which `BatchOp`s each command runs on a concept (the
 * trigger word differs per concept folder), a preview over several concepts at once, and the
 * summary the confirmation shows ("N files will change: …").
 *
 * Pure: no I/O, no `vscode`.
 */
import { previewBatch, type BatchInput, type BatchOp, type BatchOptions, type BatchPreview } from './batch';
import { pyStrip } from './readCaption';

/** The command-level operations (ids `loraWorkbench.tags.<kind>`). */
export const TAG_BATCH_KINDS = [
  'add',
  'remove',
  'replace',
  'moveToFront',
  'dedupe',
  'sort',
  'toSpaces',
  'toUnderscores',
  'addTrigger',
  'removeTrigger',
  'createMissing',
] as const;

export type TagBatchKind = (typeof TAG_BATCH_KINDS)[number];

/** What a command asked for, before it is turned into operations per concept. */
export interface TagBatchParams {
  tags?: readonly string[];
  position?: 'front' | 'end' | number;
  from?: string;
  to?: string;
  /** `sort`: the number of leading tags kept in place (keep_tokens) */
  keep?: number;
  /** `createMissing`: the tags a new file starts with (may be empty) */
  initial?: readonly string[];
}

/** Splits what the user typed into tags: commas, stripped, empty pieces dropped. */
export function splitTagInput(input: string): string[] {
  return input
    .split(',')
    .map(pyStrip)
    .filter((t) => t !== '');
}

export const KIND_TITLES: Record<TagBatchKind, string> = {
  add: 'Add Tags',
  remove: 'Remove Tags',
  replace: 'Replace or Rename a Tag',
  moveToFront: 'Move a Tag to the Front',
  dedupe: 'Remove Repeated Tags',
  sort: 'Sort Tags',
  toSpaces: 'Underscores to Spaces',
  toUnderscores: 'Spaces to Underscores',
  addTrigger: 'Add the Trigger Word at the Front',
  removeTrigger: 'Remove the Trigger Word',
  createMissing: 'Create Tag Files for Images without One',
};

/**
 * The operations of one command for one concept; null when it has nothing to do there (no
 * trigger word, nothing typed). `createMissing` has no operations: see `previewCreateMissing`.
 */
export function opsFor(kind: TagBatchKind, params: TagBatchParams, trigger: string | null): BatchOp[] | null {
  const tags = (params.tags ?? []).map(pyStrip).filter((t) => t !== '');
  switch (kind) {
    case 'add':
      return tags.length ? [{ op: 'add', tags, position: params.position ?? 'end' }] : null;
    case 'remove':
      return tags.length ? [{ op: 'remove', tags }] : null;
    case 'replace': {
      const from = pyStrip(params.from ?? '');
      return from ? [{ op: 'replace', from, to: pyStrip(params.to ?? '') }] : null;
    }
    case 'moveToFront': {
      const tag = tags[0] ?? '';
      return tag ? [{ op: 'moveToFront', tag }] : null;
    }
    case 'dedupe':
      return [{ op: 'dedupe' }];
    case 'sort':
      return [{ op: 'sort', keep: Math.max(0, Math.trunc(params.keep ?? 0)) }];
    case 'toSpaces':
      return [{ op: 'normalise', style: 'spaces' }];
    case 'toUnderscores':
      return [{ op: 'normalise', style: 'underscores' }];
    case 'addTrigger': {
      const t = pyStrip(trigger ?? '');
      // the seed script: drop the trigger wherever it is, put it first
      return t ? [{ op: 'add', tags: [t], position: 'front' }, { op: 'moveToFront', tag: t }] : null;
    }
    case 'removeTrigger': {
      const t = pyStrip(trigger ?? '');
      return t ? [{ op: 'remove', tags: [t] }] : null;
    }
    case 'createMissing':
      return null;
  }
}

/** One concept's share of a batch: its files (missing ones have `bytes: null`) and operations. */
export interface BatchGroup {
  inputs: readonly BatchInput[];
  ops: readonly BatchOp[];
  options?: BatchOptions;
}

/** `previewBatch` over several groups, as one preview. */
export function previewGroups(groups: readonly BatchGroup[]): BatchPreview {
  const out: BatchPreview = { files: [], unchanged: 0, skipped: [], totals: { files: 0, added: 0, removed: 0, replaced: 0, moved: 0 } };
  for (const g of groups) {
    const p = previewBatch(g.inputs, g.ops, g.options);
    out.files.push(...p.files);
    out.unchanged += p.unchanged;
    out.skipped.push(...p.skipped);
    for (const k of ['files', 'added', 'removed', 'replaced', 'moved'] as const) out.totals[k] += p.totals[k];
  }
  return out;
}

const encoder = new TextEncoder();

/** New tag files for the images that have none: `initial` tags joined with ", ", a final newline. */
export function previewCreateMissing(inputs: readonly BatchInput[], initial: readonly string[]): BatchPreview {
  const text = initial.map(pyStrip).filter((t) => t !== '').join(', ') + '\n';
  const out: BatchPreview = { files: [], unchanged: 0, skipped: [], totals: { files: 0, added: 0, removed: 0, replaced: 0, moved: 0 } };
  const added = initial.filter((t) => pyStrip(t) !== '').length;
  for (const i of inputs) {
    if (i.error !== undefined) out.skipped.push({ file: i.file, reason: `cannot be read: ${i.error}` });
    else if (i.bytes !== null) out.unchanged++;
    else {
      out.files.push({ file: i.file, oldText: null, newText: text, oldBytes: null, newBytes: encoder.encode(text), counts: { added, removed: 0, replaced: 0, moved: 0 } });
      out.totals.files++;
      out.totals.added += added;
    }
  }
  return out;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "12 files will change (12 tags added, 3 removed); 2 unchanged; 1 skipped" */
export function describePreview(p: BatchPreview): string {
  const t = p.totals;
  const created = p.files.filter((f) => f.oldText === null).length;
  const what = [
    t.added ? `${plural(t.added, 'tag')} added` : '',
    t.removed ? `${t.removed} removed` : '',
    t.replaced ? `${t.replaced} replaced` : '',
    t.moved ? `${t.moved} moved` : '',
    created ? `${plural(created, 'new file')}` : '',
  ].filter((s) => s !== '');
  const head = `${plural(t.files, 'file')} will change${what.length ? ` (${what.join(', ')})` : ''}`;
  const tail = [p.unchanged ? `${p.unchanged} unchanged` : '', p.skipped.length ? `${p.skipped.length} skipped` : ''].filter((s) => s !== '');
  return tail.length ? `${head}; ${tail.join('; ')}` : head;
}
