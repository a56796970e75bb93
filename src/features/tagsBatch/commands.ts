/**
 * The batch tag commands `loraWorkbench.tags.<kind>`: pick the target (tree node(s), tag node,
 * URIs, or a folder from a list), ask the operation's parameters (tags typed with completion from
 * the dataset's vocabulary), then `runBatch`.
 *
 * Arguments: (target, selection?, options?) — a tree passes the clicked node and the selected
 * nodes; a gallery or a script passes a list of image/tag-file URIs; `options` (`TagCommandOptions`)
 * answers the questions (and `confirm: false` skips the confirmation), for tests and callers.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BatchOp } from '../../core/captions/batch';
import { KIND_TITLES, opsFor, splitTagInput, type TagBatchKind, type TagBatchParams } from '../../core/captions/tagBatch';
import { allTagRows, conceptTagRows } from '../../core/captions/tagStats';
import { TagVocabulary } from '../../core/captions/vocabulary';
import { normaliseSidecarExtension } from '../../core/dataset/images';
import { Commands, Settings } from '../../constants';
import { commandOptions } from '../autoTag/targets';
import type { CaptionDiagnostics } from '../captionDiagnostics';
import type { DatasetsModel } from '../datasetsView/model';
import { reportBatch, runBatch, type BatchPlan, type TagBatchResult } from './apply';
import { askTargets, isTagNode, targetsOf, type TagNodeArg, type TargetFile } from './targets';

export interface TagCommandOptions extends TagBatchParams {
  /** false: no confirmation (tests, scripts) */
  confirm?: boolean;
  /** the trigger word for concepts that have none */
  trigger?: string;
  /** show the diff of this caption file after the batch ("Preview a File…") instead of applying it */
  previewFile?: string;
  /** test hook: act as if the progress was cancelled after this many files were written */
  cancelAfter?: number;
}

export const tagCommandId = (kind: TagBatchKind): string => `loraWorkbench.tags.${kind}`;

function vocabularyOf(captions: CaptionDiagnostics, concepts: ReadonlySet<string>): TagVocabulary {
  const index = captions.captionIndex;
  const rows = concepts.size > 0 && concepts.size <= 50 ? [...concepts].flatMap((c) => conceptTagRows(index, c)) : allTagRows(index);
  const counts = new Map<string, { name: string; count: number }>();
  for (const r of rows) {
    const m = counts.get(r.key);
    if (m) m.count += r.count;
    else counts.set(r.key, { name: r.name, count: r.count });
  }
  const v = new TagVocabulary();
  v.addList([...counts.values()].map((c) => ({ name: c.name, count: c.count, category: null, aliases: [] })));
  return v;
}

/** A quick input for tags with completion of the last one typed; resolves to the tags, or undefined. */
export function askTags(title: string, vocab: TagVocabulary, options: { single?: boolean; placeholder?: string; value?: string } = {}): Promise<string[] | undefined> {
  type Item = vscode.QuickPickItem & { use?: boolean; tag?: string; prefix?: string };
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<Item>();
    qp.title = title;
    qp.placeholder = options.placeholder ?? (options.single ? 'Type a tag' : 'Type tags, separated by commas');
    qp.value = options.value ?? '';
    let done = false;
    const update = (): void => {
      const value = qp.value;
      const cut = options.single ? -1 : value.lastIndexOf(',');
      const prefix = cut >= 0 ? `${value.slice(0, cut + 1)} ` : '';
      const last = value.slice(cut + 1).trim();
      const typed = options.single ? [value.trim()].filter((t) => t !== '') : splitTagInput(value);
      const items: Item[] = [];
      if (typed.length) items.push({ label: `$(check) ${typed.join(', ')}`, description: options.single ? 'this tag' : 'these tags', alwaysShow: true, use: true });
      const present = new Set(typed.slice(0, -1).map((t) => t.toLowerCase()));
      for (const c of vocab.complete(last, 40)) {
        if (present.has(c.tag.toLowerCase())) continue;
        const n = c.listCount ?? c.datasetCount;
        items.push({ label: `${prefix.trimStart()}${c.tag}`, description: `${n} file${n === 1 ? '' : 's'}`, alwaysShow: true, tag: c.tag, prefix: prefix.trimStart() });
      }
      qp.items = items;
    };
    qp.onDidChangeValue(update);
    qp.onDidAccept(() => {
      const a = qp.activeItems[0] ?? qp.selectedItems[0];
      if (a && !a.use && a.tag !== undefined) {
        if (options.single) {
          done = true;
          resolve([a.tag]);
          qp.hide();
          return;
        }
        qp.value = `${a.prefix ?? ''}${a.tag}, `;
        update();
        return;
      }
      const tags = options.single ? [qp.value.trim()].filter((t) => t !== '') : splitTagInput(qp.value);
      if (tags.length === 0) return;
      done = true;
      resolve(tags);
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    update();
    qp.show();
  });
}

async function askPosition(): Promise<TagBatchParams['position'] | undefined> {
  const pick = await vscode.window.showQuickPick(
    [
      { label: 'At the front', detail: 'Tags earlier in a caption weigh more (and are kept by keep_tokens).', value: 'front' as const },
      { label: 'At the end', value: 'end' as const },
      { label: 'At a position…', value: 'position' as const },
    ],
    { title: 'Where should the tags go?' },
  );
  if (!pick) return undefined;
  if (pick.value !== 'position') return pick.value;
  const n = await vscode.window.showInputBox({
    title: 'Insert before which tag? (1 = the first)',
    value: '2',
    validateInput: (v) => (/^\s*\d+\s*$/.test(v) && Number(v) >= 1 ? undefined : 'A whole number, 1 or more'),
  });
  return n === undefined ? undefined : Number(n) - 1;
}

/** The operation's parameters: from the options, the tag node, or questions. undefined = cancelled. */
async function askParams(kind: TagBatchKind, opts: TagCommandOptions, tagNode: TagNodeArg | undefined, vocab: () => TagVocabulary): Promise<TagBatchParams | undefined> {
  const p: TagBatchParams = { ...opts };
  const title = `LoRA Workbench: ${KIND_TITLES[kind]}`;
  switch (kind) {
    case 'add':
      if (!p.tags?.length) p.tags = await askTags(`${title}: which tags?`, vocab());
      if (!p.tags?.length) return undefined;
      if (p.position === undefined) p.position = await askPosition();
      return p.position === undefined ? undefined : p;
    case 'remove':
      if (!p.tags?.length) p.tags = tagNode ? [tagNode.name] : await askTags(`${title}: which tags?`, vocab());
      return p.tags?.length ? p : undefined;
    case 'moveToFront':
      if (!p.tags?.length) p.tags = tagNode ? [tagNode.name] : await askTags(`${title}: which tag?`, vocab(), { single: true });
      return p.tags?.length ? p : undefined;
    case 'replace': {
      if (!p.from) p.from = tagNode?.name ?? (await askTags(`${title}: which tag?`, vocab(), { single: true }))?.[0];
      if (!p.from) return undefined;
      if (p.to === undefined) {
        p.to = await vscode.window.showInputBox({
          title: `${title}: new name for '${p.from}'`,
          value: p.from,
          prompt: 'Leave it empty to remove the tag. A weight such as (tag:1.2) is kept.',
        });
      }
      return p.to === undefined ? undefined : p;
    }
    case 'sort': {
      if (p.keep === undefined) {
        const dflt = vscode.workspace.getConfiguration(Settings.section).get<number>(Settings.keepTokens, 0);
        const v = await vscode.window.showInputBox({
          title: `${title}: how many leading tags stay in place?`,
          prompt: 'Your keep_tokens: the trigger word and the tags sd-scripts never shuffles.',
          value: String(Math.max(1, dflt)),
          validateInput: (s) => (/^\s*\d+\s*$/.test(s) ? undefined : 'A whole number, 0 or more'),
        });
        if (v === undefined) return undefined;
        p.keep = Number(v);
      }
      return p;
    }
    default:
      return p;
  }
}

function labelOf(kind: TagBatchKind, p: TagBatchParams, where: string): string {
  const q = (tags: readonly string[] | undefined): string => `'${(tags ?? []).join(', ')}'`;
  const pos = p.position === 'front' ? ' at the front' : p.position === 'end' || p.position === undefined ? ' at the end' : ` at position ${Number(p.position) + 1}`;
  const what =
    kind === 'add'
      ? `Add ${q(p.tags)}${pos}`
      : kind === 'remove'
        ? `Remove ${q(p.tags)}`
        : kind === 'replace'
          ? p.to
            ? `Rename '${p.from}' to '${p.to}'`
            : `Remove '${p.from}'`
          : kind === 'moveToFront'
            ? `Move ${q(p.tags)} to the front`
            : KIND_TITLES[kind];
  return `${what} in ${where}`;
}

function whereOf(targets: readonly TargetFile[]): string {
  const concepts = new Set(targets.map((t) => t.concept));
  if (concepts.size === 1) return targets.length === 1 ? path.basename(targets[0]?.caption ?? '') : path.basename([...concepts][0] ?? '');
  return `${concepts.size} folders`;
}

export async function runTagCommand(
  context: vscode.ExtensionContext,
  model: DatasetsModel,
  captions: CaptionDiagnostics,
  kind: TagBatchKind,
  first: unknown,
  second: unknown,
  third: unknown,
): Promise<TagBatchResult | undefined> {
  const opts = commandOptions<TagCommandOptions>(third) ?? (Array.isArray(second) ? undefined : commandOptions<TagCommandOptions>(second)) ?? {};
  const selection = Array.isArray(second) ? second : undefined;
  const ext = normaliseSidecarExtension(vscode.workspace.getConfiguration(Settings.section).get<string>(Settings.captionExtension, '.txt'));
  if (!model.current.scannedAt) await model.refresh();
  let targets = targetsOf(first, selection, model, captions, ext);
  targets ??= await askTargets(model, ext, `LoRA Workbench: ${KIND_TITLES[kind]} — in which images?`);
  if (!targets) return undefined;
  if (targets.length === 0) {
    void vscode.window.showInformationMessage('LoRA Workbench: no images or tag files there.');
    return undefined;
  }
  const concepts = new Set(targets.map((t) => t.concept));
  const params = await askParams(kind, opts, isTagNode(first) ? first : undefined, () => vocabularyOf(captions, concepts));
  if (!params) return undefined;

  // per concept: its trigger word, its files
  const byConcept = new Map<string, string[]>();
  for (const t of targets) {
    const list = byConcept.get(t.concept) ?? [];
    list.push(t.caption);
    byConcept.set(t.concept, list);
  }
  let fallbackTrigger = opts.trigger;
  const needsTrigger = kind === 'addTrigger' || kind === 'removeTrigger';
  const triggerless = [...byConcept.keys()].filter((c) => !captions.triggerOf(c));
  if (needsTrigger && triggerless.length && fallbackTrigger === undefined) {
    fallbackTrigger = await vscode.window.showInputBox({
      title: `LoRA Workbench: trigger word for ${triggerless.length === 1 ? path.basename(triggerless[0] ?? '') : `${triggerless.length} folders`}`,
      prompt: 'These folders have no trigger word (from the settings or the concept folder name). Leave it empty to skip them.',
    });
    if (fallbackTrigger === undefined) return undefined;
  }
  const plan: BatchPlan = { label: labelOf(kind, params, whereOf(targets)), groups: [] };
  const triggers: string[] = [];
  for (const [concept, files] of byConcept) {
    const trigger = captions.triggerOf(concept) ?? (fallbackTrigger?.trim() || null);
    if (kind === 'createMissing') {
      plan.groups.push({ files, create: trigger ? [trigger] : [] });
      continue;
    }
    const ops: BatchOp[] | null = opsFor(kind, params, trigger);
    if (ops) plan.groups.push({ files, ops });
    if (trigger && needsTrigger && !triggers.includes(trigger)) triggers.push(trigger);
  }
  if (needsTrigger && triggers.length) plan.label = `${plan.label} ('${triggers.slice(0, 3).join("', '")}'${triggers.length > 3 ? ', …' : ''})`;
  if (plan.groups.length === 0) {
    void vscode.window.showInformationMessage(`LoRA Workbench: ${KIND_TITLES[kind]}: nothing to do (no trigger word).`);
    return undefined;
  }
  const r = await runBatch(context, plan, {
    ask: opts.confirm !== false,
    ...(typeof opts.previewFile === 'string' ? { previewFile: opts.previewFile } : {}),
    ...(typeof opts.cancelAfter === 'number' ? { cancelAfter: opts.cancelAfter } : {}),
  });
  reportBatch(context, r);
  return r;
}

export function registerTagCommands(context: vscode.ExtensionContext, model: DatasetsModel, captions: CaptionDiagnostics): void {
  const run =
    (kind: TagBatchKind) =>
    (first?: unknown, second?: unknown, third?: unknown): Promise<TagBatchResult | undefined> =>
      runTagCommand(context, model, captions, kind, first, second, third);
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.tagsAdd, run('add')),
    vscode.commands.registerCommand(Commands.tagsRemove, run('remove')),
    vscode.commands.registerCommand(Commands.tagsReplace, run('replace')),
    vscode.commands.registerCommand(Commands.tagsMoveToFront, run('moveToFront')),
    vscode.commands.registerCommand(Commands.tagsDedupe, run('dedupe')),
    vscode.commands.registerCommand(Commands.tagsSort, run('sort')),
    vscode.commands.registerCommand(Commands.tagsToSpaces, run('toSpaces')),
    vscode.commands.registerCommand(Commands.tagsToUnderscores, run('toUnderscores')),
    vscode.commands.registerCommand(Commands.tagsAddTrigger, run('addTrigger')),
    vscode.commands.registerCommand(Commands.tagsRemoveTrigger, run('removeTrigger')),
    vscode.commands.registerCommand(Commands.tagsCreateMissing, run('createMissing')),
  );
}
