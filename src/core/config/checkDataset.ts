/** Checks of a dataset config (--dataset_config) against sd-scripts' voluptuous schema and runtime rules. */
import * as path from 'node:path';
import { type TomlDocument, type TomlEntry, type TomlValue, kindName } from './document';
import { type DiagnosticSink, wholeLines } from './diag';
import { checkMixedArrays, type PathCheckOptions } from './checkTraining';
import {
  DATASET_KEY_MAP, DATASET_KEYS, ARGPARSE_ONLY_DATASET_KEYS, RESIZE_INTERPOLATIONS, groupsAt,
  type DatasetKey, type DatasetLevel, type DatasetStyle,
} from './options';
import type { TrainingValues } from './training';
import { parseConceptFolderName } from '../dataset/scan';
import { didYouMean, tomlString } from './text';
import { isPlaceholderPath, resolveConfigPath, isAbsoluteConfigPath } from './paths';
import type { OffsetRange } from './types';

export interface DatasetCheckOptions extends PathCheckOptions {
  /** the training config that uses this dataset config, for cross-checks (masked_loss, caching, resolution) */
  training?: TrainingValues;
}

/** One table of the dataset config, whether written as [header] or inline. */
export interface DsTable {
  level: DatasetLevel;
  entries: TomlEntry[];
  /** where to report a missing key */
  at: OffsetRange;
  /** index path for messages, e.g. datasets[0].subsets[1] */
  label: string;
}

export interface DsModel {
  general?: DsTable;
  datasets: { table: DsTable; subsets: DsTable[] }[];
}

const TRAINING_NAME_FOR: Readonly<Record<string, string>> = { train_batch_size: 'batch_size', dataset_repeats: 'num_repeats' };

/** Builds the dataset model and reports structural errors (top-level keys, [datasets] vs [[datasets]]). */
export function datasetModel(doc: TomlDocument, sink?: DiagnosticSink): DsModel {
  const model: DsModel = { datasets: [] };
  const headerAt = (o: OffsetRange | undefined): OffsetRange => o ?? [0, 0];
  for (const table of doc.tables) {
    if (table.kind === 'root') {
      for (const e of table.entries) {
        const top = e.keyPath[0] ?? e.key;
        if (top === 'datasets' && e.keyPath.length === 1 && e.value.kind === 'array') {
          e.value.items.forEach((item) => {
            if (item.kind !== 'table') return;
            addDataset(model, item.entries, item.offsets);
          });
        } else if (top === 'general' && e.keyPath.length === 1 && e.value.kind === 'table') {
          model.general = { level: 'general', entries: e.value.entries, at: e.keyOffsets, label: 'general' };
        } else {
          sink?.add('dataset-extra-key', 'error', e.keyOffsets, `A dataset config has only [general] and [[datasets]] at the top; sd-scripts rejects "${top}" (extra keys not allowed).`);
        }
      }
      continue;
    }
    const [p0, p1, ...rest] = table.path;
    if (p0 === 'general' && table.path.length === 1) {
      if (table.kind === 'array') sink?.add('dataset-extra-key', 'error', headerAt(table.headerOffsets), '[general] is a single table: write [general], not [[general]].', [{ title: 'Write [general]', edits: [{ offsets: headerAt(table.headerOffsets), newText: '[general]' }], preferred: true }]);
      model.general = { level: 'general', entries: table.entries, at: headerAt(table.keyOffsets), label: 'general' };
    } else if (p0 === 'datasets' && table.path.length === 1) {
      if (table.kind === 'standard') {
        sink?.add('dataset-not-array', 'error', headerAt(table.headerOffsets), 'Write [[datasets]] (a list of datasets), not [datasets]: sd-scripts stops with "expected a list for dictionary value @ data[\'datasets\']".', [
          { title: 'Write [[datasets]]', edits: [{ offsets: headerAt(table.headerOffsets), newText: '[[datasets]]' }], preferred: true },
        ]);
      }
      addDataset(model, table.entries, headerAt(table.keyOffsets));
    } else if (p0 === 'datasets' && p1 === 'subsets' && rest.length === 0) {
      if (table.kind === 'standard') {
        sink?.add('dataset-not-array', 'error', headerAt(table.headerOffsets), 'Write [[datasets.subsets]] (a list of subsets), not [datasets.subsets].', [
          { title: 'Write [[datasets.subsets]]', edits: [{ offsets: headerAt(table.headerOffsets), newText: '[[datasets.subsets]]' }], preferred: true },
        ]);
      }
      let ds = model.datasets[model.datasets.length - 1];
      if (!ds) ds = addDataset(model, [], headerAt(table.keyOffsets));
      ds.subsets.push({ level: 'subset', entries: table.entries, at: headerAt(table.keyOffsets), label: `${ds.table.label}.subsets[${ds.subsets.length}]` });
    } else if (p0 === 'datasets' && p1 === 'subsets' && rest[0] === 'custom_attributes' && rest.length === 1) {
      // [datasets.subsets.custom_attributes]: a table value of the last subset; fine
    } else {
      sink?.add('dataset-extra-key', 'error', headerAt(table.keyOffsets), `sd-scripts does not accept the table [${table.path.join('.')}] in a dataset config: use [general], [[datasets]] and [[datasets.subsets]].`);
    }
  }
  return model;
}

function addDataset(model: DsModel, entries: TomlEntry[], at: OffsetRange): { table: DsTable; subsets: DsTable[] } {
  const i = model.datasets.length;
  const own: TomlEntry[] = [];
  const subsets: DsTable[] = [];
  for (const e of entries) {
    if (e.key === 'subsets' && e.value.kind === 'array') {
      e.value.items.forEach((item) => {
        if (item.kind === 'table') subsets.push({ level: 'subset', entries: item.entries, at: item.offsets, label: `datasets[${i}].subsets[${subsets.length}]` });
      });
    } else own.push(e);
  }
  const ds = { table: { level: 'dataset' as const, entries: own, at, label: `datasets[${i}]` }, subsets };
  model.datasets.push(ds);
  return ds;
}

function has(t: DsTable, key: string): boolean {
  return t.entries.some((e) => e.key === key);
}

function get(t: DsTable | undefined, key: string): TomlEntry | undefined {
  if (!t) return undefined;
  for (let i = t.entries.length - 1; i >= 0; i--) if (t.entries[i]?.key === key) return t.entries[i];
  return undefined;
}

export function subsetStyle(t: DsTable, maskedLoss: boolean): DatasetStyle {
  if (maskedLoss && has(t, 'conditioning_data_dir')) return 'controlnet';
  return has(t, 'metadata_file') ? 'finetuning' : 'dreambooth';
}

/** The style sd-scripts picks for a dataset from its subsets (validate_flex_dataset); undefined when mixed. */
export function datasetStyle(subsets: readonly DsTable[], maskedLoss: boolean): DatasetStyle | undefined {
  if (maskedLoss && subsets.every((s) => has(s, 'conditioning_data_dir'))) return 'controlnet';
  if (subsets.every((s) => has(s, 'metadata_file'))) return 'finetuning';
  if (subsets.every((s) => !has(s, 'metadata_file'))) return 'dreambooth';
  return undefined;
}

const STYLE_NAME: Record<DatasetStyle, string> = { dreambooth: 'DreamBooth-style (image_dir + captions)', finetuning: 'fine-tuning (metadata_file)', controlnet: 'ControlNet' };

function whereAllowed(k: DatasetKey, maskedLoss: boolean): string {
  const places: string[] = [];
  const levels: DatasetLevel[] = ['general', 'dataset', 'subset'];
  for (const level of levels) {
    for (const style of ['dreambooth', 'finetuning', 'controlnet'] as DatasetStyle[]) {
      if (style === 'controlnet' && !maskedLoss) continue;
      if (k.groups.some((g) => groupsAt(level, style, maskedLoss).has(g))) {
        const label = level === 'general' ? '[general]' : `${style === 'dreambooth' ? 'DreamBooth' : style === 'finetuning' ? 'fine-tuning' : 'ControlNet'} ${level === 'dataset' ? 'datasets' : 'subsets'}`;
        if (!places.includes(label)) places.push(label);
      }
    }
  }
  return places.join(', ');
}

export function checkDatasetDocument(doc: TomlDocument, sink: DiagnosticSink, opts: DatasetCheckOptions = {}): DsModel {
  const model = datasetModel(doc, sink);
  const training = opts.training;
  const maskedLoss = training?.on('masked_loss') ?? false;
  for (const t of doc.tables) for (const e of t.entries) checkMixedArrays(e.value, sink);

  if (model.general) checkTable(model.general, 'dreambooth', maskedLoss, sink, doc);
  model.datasets.forEach((ds) => {
    const style = datasetStyle(ds.subsets, maskedLoss);
    if (!style) {
      sink.add('dataset-mixed-subsets', 'error', ds.table.at, 'DreamBooth subsets (image_dir only) and fine-tuning subsets (metadata_file) cannot be mixed in one dataset; sd-scripts stops. Put them into separate [[datasets]].');
    }
    checkTable(ds.table, style ?? 'dreambooth', maskedLoss, sink, doc, style === undefined);
    const seenDirs = new Map<string, TomlEntry>();
    for (const sub of ds.subsets) {
      const sStyle = style ?? subsetStyle(sub, maskedLoss);
      checkTable(sub, sStyle, maskedLoss, sink, doc);
      const required = sStyle === 'finetuning' ? ['metadata_file'] : sStyle === 'controlnet' ? ['image_dir', 'conditioning_data_dir'] : ['image_dir'];
      for (const r of required) {
        if (!has(sub, r)) sink.add('dataset-required-key', 'error', sub.at, `This ${STYLE_NAME[sStyle]} subset needs ${r}: sd-scripts stops with "required key not provided @ ${voluptuousPath(sub.label)}['${r}']".`);
      }
      // duplicates are dropped silently
      const idKey = sStyle === 'finetuning' ? 'metadata_file' : 'image_dir';
      const id = get(sub, idKey);
      if (id && id.value.kind === 'string') {
        const prev = seenDirs.get(id.value.value);
        if (prev) sink.add('dataset-value', 'warning', id.value.offsets, `Another subset of this dataset already uses this ${idKey}; sd-scripts ignores the duplicate subset.`);
        else seenDirs.set(id.value.value, id);
      }
      // folder names are not parsed with a dataset config
      const dir = get(sub, 'image_dir');
      if (sStyle === 'dreambooth' && dir && dir.value.kind === 'string' && !has(sub, 'num_repeats') && !get(ds.table, 'num_repeats') && !get(model.general, 'num_repeats')) {
        const base = dir.value.value.split(/[\\/]/).filter(Boolean).pop() ?? '';
        const concept = parseConceptFolderName(base);
        if (concept.ok && concept.repeats !== 1) {
          const lineEnd = wholeLines(doc.lines, dir.offsets)[1];
          sink.add('advice', 'warning', dir.value.offsets, `With a dataset config sd-scripts does not read repeats from folder names: "${base}" is trained with num_repeats = 1, not ${concept.repeats}.`, [
            { title: `Add num_repeats = ${concept.repeats}`, edits: [{ offsets: [lineEnd, lineEnd], newText: `${lineEnd > 0 && !/[\r\n]$/.test(doc.text.slice(0, lineEnd)) ? '\n' : ''}${indentOf(doc, dir)}num_repeats = ${concept.repeats}\n` }], preferred: true },
          ]);
        }
      }
      if (opts.fs) checkSubsetPaths(sub, sink, opts);
    }
    checkDatasetRuntime(model, ds, style, sink, training);
  });
  if (training) checkAgainstTraining(model, sink, training);
  return model;
}

/** 'datasets[0].subsets[1]' → "data['datasets'][0]['subsets'][1]", as voluptuous prints paths. */
function voluptuousPath(label: string): string {
  return 'data' + label.split('.').map((part) => part.replace(/^([^[]+)/, "['$1']")).join('');
}

function indentOf(doc: TomlDocument, e: TomlEntry): string {
  const line = doc.lines.position(e.offsets[0]).line;
  return /^\s*/.exec(doc.lines.lineText(line))?.[0] ?? '';
}

function checkTable(t: DsTable, style: DatasetStyle, maskedLoss: boolean, sink: DiagnosticSink, doc: TomlDocument, mixed = false): void {
  const allowed = groupsAt(t.level, style, maskedLoss);
  const allowedNames = DATASET_KEYS.filter((k) => k.groups.some((g) => allowed.has(g))).map((k) => k.name);
  for (const e of t.entries) {
    const name = e.keyPath[0] ?? e.key;
    const k = DATASET_KEY_MAP.get(name);
    const where = t.level === 'general' ? '[general]' : t.level === 'dataset' ? `a ${STYLE_NAME[style]} [[datasets]] table` : `a ${STYLE_NAME[style]} subset`;
    if (!k) {
      if (ARGPARSE_ONLY_DATASET_KEYS.includes(name)) {
        sink.add('dataset-extra-key', 'error', e.keyOffsets, `${name} belongs in the training config, not the dataset config (sd-scripts rejects it here as an extra key).`);
        continue;
      }
      const alias = TRAINING_NAME_FOR[name];
      const near = alias ?? didYouMean(name, allowedNames);
      sink.add('dataset-extra-key', 'error', e.keyOffsets, `sd-scripts rejects the unknown key "${name}" in ${where} (extra keys not allowed).` + (near ? ` Did you mean "${near}"?` : ''), near ? [{ title: `Rename to ${near}`, edits: [{ offsets: e.keyOffsets, newText: near }], preferred: true }] : undefined);
      continue;
    }
    if (!k.groups.some((g) => allowed.has(g))) {
      if (!mixed) {
        const extra = name === 'conditioning_data_dir' && !maskedLoss ? ' It is only accepted with masked_loss = true in the training config.' : '';
        sink.add('dataset-extra-key', 'error', e.keyOffsets, `"${name}" is not allowed in ${where}; sd-scripts stops with "extra keys not allowed". It is allowed in: ${whereAllowed(k, maskedLoss) || 'no table of this training setup'}.${extra}`, [
          { title: `Remove ${name}`, edits: [{ offsets: wholeLines(doc.lines, e.offsets), newText: '' }] },
        ]);
      }
      continue;
    }
    if (e.keyPath.length > 1) {
      sink.add('wrong-type', 'error', e.keyOffsets, `The dotted key makes "${name}" a table; sd-scripts expects ${k.type}.`);
      continue;
    }
    checkDatasetValue(k, e.value, sink, doc.text);
  }
}

function expected(type: DatasetKey['type']): string {
  switch (type) {
    case 'int':
      return 'an integer';
    case 'float':
      return 'a float (e.g. 0.0, not 0)';
    case 'floatOrInt':
      return 'a number';
    case 'bool':
      return 'true or false';
    case 'str':
      return 'a string';
    case 'resolution':
      return 'an integer or [width, height]';
    case 'floatPair':
      return 'two floats such as [2.0, 4.0]';
    case 'table':
      return 'a table';
  }
}

function checkDatasetValue(k: DatasetKey, v: TomlValue, sink: DiagnosticSink, text: string): void {
  let ok: boolean;
  let fix: string | undefined;
  const raw = text.slice(v.offsets[0], v.offsets[1]);
  switch (k.type) {
    case 'int':
      ok = v.kind === 'integer' || v.kind === 'boolean';
      if (v.kind === 'float' && Number.isInteger(v.value)) fix = String(v.value);
      if (v.kind === 'string' && /^\s*-?\d+\s*$/.test(v.value)) fix = v.value.trim();
      break;
    case 'float':
      ok = v.kind === 'float';
      if (v.kind === 'integer') fix = `${v.value}.0`;
      break;
    case 'floatOrInt':
      ok = v.kind === 'float' || v.kind === 'integer' || v.kind === 'boolean';
      break;
    case 'bool':
      ok = v.kind === 'boolean';
      if (v.kind === 'string' && /^(true|false)$/i.test(v.value.trim())) fix = v.value.trim().toLowerCase();
      if (v.kind === 'integer' && (v.value === 0 || v.value === 1)) fix = v.value ? 'true' : 'false';
      break;
    case 'str':
      ok = v.kind === 'string';
      if (v.kind === 'integer' || v.kind === 'float' || v.kind === 'boolean') fix = tomlString(raw);
      break;
    case 'resolution':
      ok = v.kind === 'integer' || v.kind === 'boolean' || (v.kind === 'array' && v.items.length === 2 && v.items.every((i) => i.kind === 'integer' || i.kind === 'boolean'));
      if (v.kind === 'string') {
        const m = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(v.value);
        if (m) fix = m[2] === undefined ? m[1] : `[${m[1]}, ${m[2]}]`;
      }
      break;
    case 'floatPair':
      ok = v.kind === 'array' && v.items.length === 2 && v.items.every((i) => i.kind === 'float');
      if (v.kind === 'array' && v.items.length === 2 && v.items.every((i) => i.kind === 'float' || i.kind === 'integer')) {
        fix = `[${v.items.map((i) => (i.kind === 'integer' ? `${i.value}.0` : text.slice(i.offsets[0], i.offsets[1]))).join(', ')}]`;
      }
      break;
    case 'table':
      ok = v.kind === 'table';
      break;
  }
  if (!ok) {
    sink.add('wrong-type', 'error', v.offsets, `"${k.name}" must be ${expected(k.type)}, not ${kindName(v)}: sd-scripts' dataset schema does not convert values.`, fix !== undefined ? [{ title: `Write ${fix}`, edits: [{ offsets: v.offsets, newText: fix }], preferred: true }] : undefined);
    return;
  }
  if (k.name === 'resize_interpolation' && v.kind === 'string' && !RESIZE_INTERPOLATIONS.includes(v.value)) {
    const near = didYouMean(v.value, RESIZE_INTERPOLATIONS);
    sink.add('invalid-choice', 'error', v.offsets, `Resize interpolation "${v.value}" is not valid; use one of ${RESIZE_INTERPOLATIONS.join(', ')}.`, near ? [{ title: `Write "${near}"`, edits: [{ offsets: v.offsets, newText: tomlString(near) }], preferred: true }] : undefined);
  }
  if (k.name === 'validation_split' && v.kind === 'float' && (v.value < 0 || v.value > 1)) sink.add('dataset-value', 'warning', v.offsets, `validation_split must be between 0.0 and 1.0; sd-scripts skips the validation split for ${raw}.`);
  if (k.name === 'num_repeats' && v.kind === 'integer' && v.value < 1) sink.add('dataset-value', 'warning', v.offsets, 'sd-scripts ignores a subset with num_repeats below 1.');
  if (k.name === 'bucket_reso_steps' && v.kind === 'integer' && v.value % 32 !== 0) sink.add('conflict', 'error', v.offsets, `bucket_reso_steps is ${v.value}; SDXL needs a multiple of 32 and sd-scripts stops.`);
}

function num(e: TomlEntry | undefined): number | undefined {
  return e && (e.value.kind === 'integer' || e.value.kind === 'float') ? e.value.value : undefined;
}

function resolutionOf(e: TomlEntry | undefined): [number, number] | undefined {
  if (!e) return undefined;
  const v = e.value;
  if (v.kind === 'integer') return [v.value, v.value];
  if (v.kind === 'array' && v.items.length === 2) {
    const [a, b] = v.items;
    if (a?.kind === 'integer' && b?.kind === 'integer') return [a.value, b.value];
  }
  return undefined;
}

function checkDatasetRuntime(model: DsModel, ds: DsModel['datasets'][number], style: DatasetStyle | undefined, sink: DiagnosticSink, training?: TrainingValues): void {
  const pick = (key: string) => get(ds.table, key) ?? get(model.general, key);
  const resEntry = pick('resolution');
  let res = resolutionOf(resEntry);
  if (!res && !resEntry && training) {
    const s = training.str('resolution');
    const m = s !== undefined ? /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(s) : null;
    if (m) res = [Number(m[1]), Number(m[2] ?? m[1])];
  }
  if (!resEntry && !res && style === 'dreambooth') {
    sink.add('dataset-required-key', training ? 'error' : 'warning', ds.table.at, training ? 'No resolution for this dataset (not here, in [general] or in the training config): sd-scripts stops with "resolution is required".' : 'No resolution for this dataset or in [general]; sd-scripts stops unless the training config or command line sets one.');
  }
  const enableBucket = pick('enable_bucket') ? pick('enable_bucket')?.value.kind === 'boolean' && (pick('enable_bucket')?.value as { value: boolean }).value : training?.on('enable_bucket') ?? false;
  if (!res || !enableBucket) return;
  const steps = num(pick('bucket_reso_steps')) ?? training?.num('bucket_reso_steps') ?? 64;
  if (steps <= 0) return;
  const minE = pick('min_bucket_reso');
  const maxE = pick('max_bucket_reso');
  const min = num(minE) ?? training?.num('min_bucket_reso') ?? 256;
  const max = num(maxE) ?? training?.num('max_bucket_reso') ?? 1024;
  const minAdj = min - (min % steps);
  const maxAdj = max % steps === 0 ? max : max + steps - (max % steps);
  const at = (e: TomlEntry | undefined) => e?.value.offsets ?? resEntry?.value.offsets ?? ds.table.at;
  if (Math.min(...res) < minAdj) sink.add('dataset-value', 'error', at(minE), `min_bucket_reso (${minAdj}) is greater than the resolution's smaller side (${Math.min(...res)}): sd-scripts stops with "min_bucket_reso must be equal or less than resolution".`);
  if (Math.max(...res) > maxAdj) sink.add('dataset-value', 'error', at(maxE), `max_bucket_reso (${maxAdj}${maxE ? '' : ', the default'}) is smaller than the resolution's larger side (${Math.max(...res)}): sd-scripts stops with "max_bucket_reso must be equal or greater than resolution".`);
}

function checkAgainstTraining(model: DsModel, sink: DiagnosticSink, training: TrainingValues): void {
  const tables: DsTable[] = [...(model.general ? [model.general] : []), ...model.datasets.flatMap((d) => [d.table, ...d.subsets])];
  const on = (t: DsTable, k: string) => {
    const e = get(t, k);
    if (!e) return undefined;
    const v = e.value;
    const truthy = v.kind === 'boolean' ? v.value : v.kind === 'integer' || v.kind === 'float' ? v.value > 0 : false;
    return truthy ? e : undefined;
  };
  const latents = training.on('cache_latents') || training.on('cache_latents_to_disk');
  const te = training.on('cache_text_encoder_outputs') || training.on('cache_text_encoder_outputs_to_disk');
  for (const t of tables) {
    if (latents) {
      for (const k of ['color_aug', 'random_crop']) {
        const e = on(t, k);
        if (e) sink.add('conflict', 'error', e.keyOffsets, `${k} cannot be used because the training config caches latents: sd-scripts stops.`);
      }
    }
    if (te) {
      for (const k of ['shuffle_caption', 'caption_dropout_rate', 'caption_tag_dropout_rate', 'token_warmup_step']) {
        const e = on(t, k);
        if (e) sink.add('conflict', 'error', e.keyOffsets, `${k} changes captions, but the training config caches text-encoder outputs: sd-scripts stops.`);
      }
    }
  }
}

const IMAGE_RE = /\.(png|jpg|jpeg|webp|bmp|PNG|JPG|JPEG|WEBP|BMP)$/;

function checkSubsetPaths(sub: DsTable, sink: DiagnosticSink, opts: DatasetCheckOptions): void {
  const fs = opts.fs;
  if (!fs) return;
  const baseDir = opts.baseDir ?? process.cwd();
  for (const key of ['image_dir', 'metadata_file', 'conditioning_data_dir']) {
    const e = get(sub, key);
    if (!e || e.value.kind !== 'string') continue;
    const p = e.value.value;
    if (isPlaceholderPath(p)) {
      sink.add('placeholder-path', 'warning', e.value.offsets, `${key} is still a placeholder ("${p}"): put the real path here.`);
      continue;
    }
    const abs = resolveConfigPath(baseDir, p);
    const rel = isAbsoluteConfigPath(p) ? '' : ` (relative paths are resolved from the folder sd-scripts runs in; checked against ${baseDir})`;
    if (!fs.exists(abs)) {
      sink.add('path-not-found', isAbsoluteConfigPath(p) ? 'error' : 'warning', e.value.offsets, `${key}: "${p}" does not exist${rel}.`);
      continue;
    }
    const isDir = fs.isDirectory(abs);
    if (key === 'metadata_file' && isDir) sink.add('path-kind', 'error', e.value.offsets, `metadata_file must be a file; "${p}" is a folder.`);
    if (key !== 'metadata_file' && !isDir) sink.add('path-kind', 'error', e.value.offsets, `${key} must be a folder; "${p}" is a file.`);
    if (key === 'image_dir' && isDir && !has(sub, 'metadata_file')) {
      const names = fs.list(abs);
      if (!names.some((n) => IMAGE_RE.test(n))) {
        const sub1 = names.filter((n) => fs.isDirectory(path.join(abs, n)));
        sink.add('dataset-value', 'warning', e.value.offsets, `"${p}" has no images directly inside (sd-scripts does not look into subfolders${sub1.length ? `; it has the subfolder${sub1.length === 1 ? '' : 's'} ${sub1.slice(0, 3).map((s) => `"${s}"`).join(', ')}` : ''}), so sd-scripts ignores this subset.`);
      }
    }
  }
}
