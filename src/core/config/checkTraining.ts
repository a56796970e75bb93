/** Checks of a training config (--config_file) exactly as sd-scripts' sdxl_train_network.py reads it. */
import * as path from 'node:path';
import { type TomlDocument, type TomlValue, kindName } from './document';
import { type DiagnosticSink, wholeLines, type EditSpec } from './diag';
import { getOption, OPTION_MAP, KNOWN_VALUES, PATH_OPTIONS, NETWORK_ARGS, DATASET_KEY_MAP, type KohyaOption } from './options';
import { flattenTrainingConfig, effectiveOptions, TrainingValues, parseResolutionString, type FlatOption } from './training';
import { didYouMean, tomlString } from './text';
import { isPlaceholderPath, resolveConfigPath, isAbsoluteConfigPath, looksLikeHubId } from './paths';
import { parseConceptFolderName } from '../dataset/scan';
import type { ConfigFileSystem } from './types';

export interface PathCheckOptions {
  /** when absent, paths are not checked */
  fs?: ConfigFileSystem;
  /** folder relative paths are resolved against (sd-scripts uses its working directory) */
  baseDir?: string;
}

/** Names people write that sd-scripts spells differently. */
const ALIASES: Readonly<Record<string, string>> = {
  epoch: 'max_train_epochs',
  epochs: 'max_train_epochs',
  max_epochs: 'max_train_epochs',
  steps: 'max_train_steps',
  batch_size: 'train_batch_size',
  lr: 'learning_rate',
  text_encoder_lr1: 'text_encoder_lr',
  text_encoder_lr2: 'text_encoder_lr',
  dim: 'network_dim',
  alpha: 'network_alpha',
  num_repeats: 'dataset_repeats',
  caption_ext: 'caption_extension',
  pretrained_model: 'pretrained_model_name_or_path',
  model: 'pretrained_model_name_or_path',
  optimizer: 'optimizer_type',
  scheduler: 'lr_scheduler',
  prompts: 'sample_prompts',
};

function render(v: TomlValue, text: string): string {
  return text.slice(v.offsets[0], v.offsets[1]);
}

export function checkTrainingDocument(doc: TomlDocument, sink: DiagnosticSink, opts: PathCheckOptions = {}): TrainingValues {
  const flat = flattenTrainingConfig(doc);
  const eff = effectiveOptions(flat);
  const values = new TrainingValues(eff);
  const text = doc.text;

  // -- keys: unknown, nested, repeated ------------------------------------------------------
  const seen = new Map<string, FlatOption>();
  for (const f of flat) {
    const opt = getOption(f.name);
    if (f.nested) {
      const what = f.nested === 'arrayTable' ? `[[${f.section}]] makes \`${f.name}\` a list of tables` : f.nested === 'subtable' ? `a table nested in [${f.section}] becomes the option \`${f.name}\` with a table as its value` : `the dotted key makes \`${f.name}\` a table`;
      sink.add('nested-table', opt ? 'error' : 'warning', f.keyOffsets, `sd-scripts flattens sections only one level: ${what}.`);
      continue;
    }
    if (!opt) {
      const alias = ALIASES[f.name];
      const suggestion = alias ?? didYouMean(f.name, OPTION_MAP.keys());
      const dsKey = DATASET_KEY_MAP.has(f.name) ? ` \`${f.name}\` is a dataset-config key.` : '';
      const msg = `Unknown option \`${f.name}\`: sd-scripts ignores it without a warning.${dsKey}` + (suggestion ? ` Did you mean \`${suggestion}\`?` : '');
      sink.add('unknown-option', 'warning', f.keyOffsets, msg, suggestion ? [{ title: `Rename to ${suggestion}`, edits: [{ offsets: f.keyOffsets, newText: suggestion }], preferred: true }] : undefined);
    }
    const before = seen.get(f.name);
    if (before) {
      const line = doc.lines.position(f.keyOffsets[0]).line + 1;
      sink.add('duplicate-option', 'warning', before.keyOffsets, `\`${f.name}\` is set again ${f.section ? `in [${f.section}]` : 'at the top'} (line ${line}); sd-scripts uses that later value and ignores this one.`, [
        { title: `Remove this ${f.name}`, edits: [{ offsets: wholeLines(doc.lines, before.entry.offsets), newText: '' }] },
      ]);
    }
    seen.set(f.name, f);
  }

  // -- types and values (every occurrence, as each is a mistake even when overridden) ----------
  for (const f of flat) {
    if (f.nested) continue;
    const opt = getOption(f.name);
    checkMixedArrays(f.value, sink);
    if (opt) checkOptionValue(opt, f, sink, text);
  }

  checkCombinations(values, sink, doc);
  if (opts.fs) checkPaths(values, sink, opts.fs, opts.baseDir ?? process.cwd());
  return values;
}

/** python toml 0.10.2 (what sd-scripts uses) rejects arrays whose items have different types. */
export function checkMixedArrays(v: TomlValue, sink: DiagnosticSink): void {
  if (v.kind === 'table') {
    for (const e of v.entries) checkMixedArrays(e.value, sink);
    return;
  }
  if (v.kind !== 'array') return;
  const kinds = new Set(v.items.map((i) => i.kind));
  if (kinds.size > 1) {
    sink.add('mixed-array', 'error', v.offsets, `This array mixes ${[...kinds].join(' and ')} values; the toml 0.10.2 reader of sd-scripts stops with "Not a homogeneous array".`);
  }
  for (const i of v.items) checkMixedArrays(i, sink);
}

function numericString(s: string): number | undefined {
  const t = s.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

function tomlNumber(n: number, float: boolean): string {
  if (!float) return String(Math.trunc(n));
  const s = String(n);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

function checkOptionValue(opt: KohyaOption, f: FlatOption, sink: DiagnosticSink, text: string): void {
  const v = f.value;
  const at = v.offsets;
  const name = opt.name;
  const replace = (title: string, newText: string): { title: string; edits: EditSpec[]; preferred: boolean } => ({ title, edits: [{ offsets: at, newText }], preferred: true });

  // quirks first
  if (name === 'resolution' || name === 'face_crop_aug_range') {
    const example = name === 'resolution' ? '"1024,1024"' : '"2.0,4.0"';
    if (v.kind === 'string') {
      if (name === 'resolution' && !parseResolutionString(v.value)) {
        sink.add('wrong-type', 'error', at, `\`resolution\` must be "N" or "W,H" with whole numbers, e.g. ${example}; sd-scripts cannot read ${render(v, text)}.`);
      } else if (name === 'face_crop_aug_range' && !/^\s*[\d.]+\s*,\s*[\d.]+\s*$/.test(v.value)) {
        sink.add('wrong-type', 'error', at, `\`face_crop_aug_range\` must be two numbers in a string, e.g. ${example}.`);
      }
      return;
    }
    let fix: string | undefined;
    if (v.kind === 'integer' || v.kind === 'float') fix = name === 'resolution' ? `"${v.raw},${v.raw}"` : undefined;
    if (v.kind === 'array' && v.items.every((i) => i.kind === 'integer' || i.kind === 'float')) {
      fix = `"${v.items.map((i) => (i.kind === 'integer' || i.kind === 'float' ? i.raw : '')).join(',')}"`;
    }
    sink.add('wrong-type', 'error', at, `\`${name}\` must be a string such as ${example} in a training config: sd-scripts splits it on commas and fails on ${kindName(v)}.`, fix ? [replace(`Write ${fix}`, fix)] : undefined);
    return;
  }
  if (name === 'validation_split') {
    if (v.kind === 'float') {
      if (v.value < 0 || v.value > 1) sink.add('dataset-value', 'warning', at, `validation_split must be between 0.0 and 1.0; sd-scripts skips the validation split for ${v.raw}.`);
      return;
    }
    const fix = v.kind === 'integer' ? tomlNumber(v.value, true) : v.kind === 'string' && numericString(v.value) !== undefined ? tomlNumber(numericString(v.value) ?? 0, true) : undefined;
    sink.add('wrong-type', 'error', at, `\`validation_split\` must be a TOML float (write 0.0, not 0): the dataset schema of sd-scripts rejects ${kindName(v)} with "expected float".`, fix ? [replace(`Write ${fix}`, fix)] : undefined);
    return;
  }
  if (name === 'text_encoder_lr' && (v.kind === 'integer' || v.kind === 'float')) return; // scalar accepted for backward compatibility

  switch (opt.type) {
    case 'bool': {
      if (v.kind === 'boolean') break;
      let fix: string | undefined;
      if (v.kind === 'string' && /^(true|false)$/i.test(v.value.trim())) fix = v.value.trim().toLowerCase();
      if (v.kind === 'integer' && (v.value === 0 || v.value === 1)) fix = v.value === 1 ? 'true' : 'false';
      const truthy = v.kind === 'string' ? (v.value === '' ? 'off' : 'on (any non-empty string is true in Python, even "false")') : undefined;
      sink.add('wrong-type', 'error', at, `\`${name}\` must be true or false, not ${kindName(v)}` + (truthy ? `: sd-scripts takes ${render(v, text)} as ${truthy}.` : '.'), fix ? [replace(`Write ${fix}`, fix)] : undefined);
      return;
    }
    case 'int': {
      if (v.kind === 'integer') break;
      let fix: string | undefined;
      if (v.kind === 'float' && Number.isInteger(v.value)) fix = tomlNumber(v.value, false);
      if (v.kind === 'string') {
        const n = numericString(v.value);
        if (n !== undefined && Number.isInteger(n)) fix = String(n);
      }
      sink.add('wrong-type', 'error', at, `\`${name}\` must be an integer, not ${kindName(v)}: sd-scripts does not convert TOML values.`, fix ? [replace(`Write ${fix}`, fix)] : undefined);
      return;
    }
    case 'float': {
      if (v.kind === 'float' || v.kind === 'integer') break;
      const n = v.kind === 'string' ? numericString(v.value) : undefined;
      const fix = n !== undefined ? (v.kind === 'string' ? v.value.trim() : undefined) : undefined;
      sink.add('wrong-type', 'error', at, `\`${name}\` must be a number, not ${kindName(v)}: sd-scripts does not convert TOML values` + (v.kind === 'string' ? ' and fails when it calculates with a string.' : '.'), fix ? [replace(`Write ${fix}`, fix)] : undefined);
      return;
    }
    case 'str': {
      if (v.kind === 'string') break;
      const fix = v.kind === 'integer' || v.kind === 'float' || v.kind === 'boolean' ? tomlString(render(v, text)) : undefined;
      sink.add('wrong-type', 'error', at, `\`${name}\` must be a string, not ${kindName(v)}.`, fix ? [replace(`Write ${fix}`, fix)] : undefined);
      return;
    }
    case 'list': {
      if (v.kind !== 'array') {
        const fix = v.kind === 'string' ? `[${render(v, text)}]` : v.kind === 'integer' || v.kind === 'float' ? `[${render(v, text)}]` : undefined;
        const why = v.kind === 'string' ? ': sd-scripts would go through the string one character at a time' : '';
        sink.add('wrong-type', 'error', at, `\`${name}\` takes a list: write a TOML array${why}.`, fix ? [replace(`Write ${fix}`, fix)] : undefined);
        return;
      }
      for (const item of v.items) {
        const okItem = opt.itemType === 'float' ? item.kind === 'float' || item.kind === 'integer' : opt.itemType === 'int' ? item.kind === 'integer' : item.kind === 'string';
        if (!okItem) {
          const want = opt.itemType === 'float' ? 'numbers' : opt.itemType === 'int' ? 'integers' : 'strings';
          const fix = want === 'strings' && item.kind !== 'array' && item.kind !== 'table' ? tomlString(render(item, text)) : undefined;
          sink.add('wrong-type', 'error', item.offsets, `The items of \`${name}\` must be ${want}, not ${kindName(item)}.`, fix ? [{ title: `Write ${fix}`, edits: [{ offsets: item.offsets, newText: fix }], preferred: true }] : undefined);
        }
      }
      if (name === 'text_encoder_lr' && v.items.length > 1) {
        sink.add('ignored-option', 'info', at, 'Only the first text_encoder_lr is used: networks.lora trains both SDXL text encoders with one learning rate.');
      }
      if (name === 'network_args') checkNetworkArgs(v, sink);
      if (name === 'optimizer_args' || name === 'lr_scheduler_args') {
        for (const item of v.items) {
          if (item.kind !== 'string') continue;
          const n = item.value.split('=').length - 1;
          if (n !== 1) sink.add('key-value-arg', 'error', item.offsets, `Each ${name} entry must be "key=value" with exactly one "=": sd-scripts splits "${item.value}" on "=" and stops.`);
        }
      }
      return;
    }
    case 'int|float': {
      if (v.kind === 'integer') break;
      if (v.kind === 'float') {
        if (v.value >= 1) {
          const fix = Number.isInteger(v.value) ? tomlNumber(v.value, false) : undefined;
          sink.add('warmup-float-ratio', 'warning', at, `A float \`${name}\` is a fraction of all training steps: ${v.raw} means ${v.raw} × the total steps. Write an integer for a number of steps, or a float below 1 for a fraction.`, fix ? [replace(`Write ${fix} steps`, fix)] : undefined);
        }
        break;
      }
      let fix: string | undefined;
      if (v.kind === 'string') {
        const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v.value);
        if (pct) fix = tomlNumber(Number(pct[1]) / 100, true);
        else {
          const n = numericString(v.value);
          if (n !== undefined) fix = Number.isInteger(n) ? String(n) : tomlNumber(n, true);
        }
      }
      sink.add('wrong-type', 'error', at, `\`${name}\` must be an integer (steps) or a float below 1 (a fraction), not ${kindName(v)}; "N%" works only on the command line.`, fix ? [replace(`Write ${fix}`, fix)] : undefined);
      return;
    }
  }

  // choices (argparse does not check TOML values, so sd-scripts fails later or silently)
  if (opt.choices && opt.choices.length && (v.kind === 'string' || v.kind === 'integer')) {
    const ok = opt.choices.some((c) => c === v.value);
    if (!ok) {
      const list = opt.choices.map((c) => (typeof c === 'string' ? `"${c}"` : String(c))).join(', ');
      const ci = v.kind === 'string' ? opt.choices.find((c) => typeof c === 'string' && c.toLowerCase() === v.value.toLowerCase()) : undefined;
      const near = ci ?? (v.kind === 'string' ? didYouMean(v.value, opt.choices.filter((c): c is string => typeof c === 'string')) : undefined);
      const extra = name === 'max_token_length' ? ' (leave it out for 75)' : name === 'sample_sampler' ? '; sd-scripts falls back to DDIM for unknown samplers' : name === 'dynamo_backend' ? ' (it is only read when torch_compile is on)' : '';
      const soft = name === 'sample_sampler' || name === 'dynamo_backend';
      sink.add('invalid-choice', soft ? 'warning' : 'error', at, `\`${name}\` must be one of ${list}${extra}.`, near !== undefined ? [replace(`Write "${near}"`, typeof near === 'string' ? tomlString(near) : String(near))] : undefined);
    }
  }
  const known = KNOWN_VALUES[name];
  if (known && v.kind === 'string' && v.value !== '') {
    const val = v.value;
    const lower = val.toLowerCase();
    let ok: boolean;
    if (name === 'optimizer_type') ok = val.includes('.') || known.some((k) => k.toLowerCase() === lower);
    else if (name === 'lr_scheduler') ok = known.includes(val) || /^adafactor:[\d.eE+-]+$/.test(val);
    else ok = known.includes(val) || (name === 'network_module' && val.includes('.'));
    if (!ok) {
      const near = didYouMean(val, known) ?? known.find((k) => k.toLowerCase() === lower);
      const sev = name === 'network_module' ? 'warning' : 'error';
      sink.add('unknown-value', sev, at, `sd-scripts does not know ${name} "${val}"` + (near ? `. Did you mean "${near}"?` : '.'), near ? [replace(`Write "${near}"`, tomlString(near))] : undefined);
    }
  }
}

function checkNetworkArgs(v: Extract<TomlValue, { kind: 'array' }>, sink: DiagnosticSink): void {
  const names = NETWORK_ARGS.map((a) => a.name);
  for (const item of v.items) {
    if (item.kind !== 'string') continue;
    const eq = item.value.indexOf('=');
    if (eq <= 0) {
      sink.add('network-arg', 'error', item.offsets, `A network_args entry must be "key=value" (e.g. "conv_dim=4"); sd-scripts cannot split "${item.value}".`);
      continue;
    }
    const key = item.value.slice(0, eq).trim();
    if (!names.includes(key)) {
      const near = didYouMean(key, names);
      if (near) {
        const start = item.offsets[0] + 1 + item.value.indexOf(key);
        sink.add('network-arg', 'warning', item.offsets, `Unknown network_args key "${key}"; the network module ignores it. Did you mean "${near}"?`, [
          { title: `Rename to ${near}`, edits: [{ offsets: [start, start + key.length], newText: near }], preferred: true },
        ]);
      }
    }
  }
}

function optionKey(values: TrainingValues, name: string): readonly [number, number] | undefined {
  return values.options.get(name)?.keyOffsets;
}

function valueAt(values: TrainingValues, name: string): readonly [number, number] | undefined {
  return values.options.get(name)?.value.offsets;
}

function insertAfter(doc: TomlDocument, values: TrainingValues, name: string, line: string): EditSpec {
  const e = values.options.get(name);
  const end = e ? wholeLines(doc.lines, e.entry.offsets)[1] : doc.text.length;
  const prefix = end > 0 && !/[\r\n]$/.test(doc.text.slice(0, end)) ? '\n' : '';
  return { offsets: [end, end], newText: `${prefix}${line}\n` };
}

function checkCombinations(values: TrainingValues, sink: DiagnosticSink, doc: TomlDocument): void {
  const on = (n: string) => values.on(n);
  const key = (n: string) => optionKey(values, n) ?? ([0, 0] as const);

  if (on('v2')) sink.add('conflict', 'error', key('v2'), 'sdxl_train_network.py refuses v2: it must be false (or absent) for SDXL.', [{ title: 'Remove v2', edits: [{ offsets: wholeLines(doc.lines, values.options.get('v2')?.entry.offsets ?? [0, 0]), newText: '' }], preferred: true }]);

  const teCache = on('cache_text_encoder_outputs') ? 'cache_text_encoder_outputs' : on('cache_text_encoder_outputs_to_disk') ? 'cache_text_encoder_outputs_to_disk' : undefined;
  if (teCache) {
    if (!on('network_train_unet_only')) {
      sink.add('incomplete', 'error', key(teCache), `${teCache} needs network_train_unet_only = true: cached text-encoder outputs cannot train the text encoders, and sd-scripts stops.`, [
        { title: 'Add network_train_unet_only = true', edits: [values.has('network_train_unet_only') ? { offsets: valueAt(values, 'network_train_unet_only') ?? [0, 0], newText: 'true' } : insertAfter(doc, values, teCache, 'network_train_unet_only = true')], preferred: true },
      ]);
    }
    for (const n of ['shuffle_caption', 'caption_dropout_rate', 'caption_tag_dropout_rate', 'token_warmup_step']) {
      if (on(n)) sink.add('conflict', 'error', key(n), `${n} changes captions every step, which ${teCache} cannot do: sd-scripts stops. Turn one of them off.`);
    }
  }
  const mp = values.str('mixed_precision');
  if (on('full_fp16') && mp !== 'fp16') sink.add('conflict', 'error', key('full_fp16'), `full_fp16 needs mixed_precision = "fp16" (it is ${mp === undefined ? 'unset: "no"' : `"${mp}"`}).`);
  if (on('full_bf16') && mp !== 'bf16') sink.add('conflict', 'error', key('full_bf16'), `full_bf16 needs mixed_precision = "bf16" (it is ${mp === undefined ? 'unset: "no"' : `"${mp}"`}).`);
  if (on('fp8_base') && (mp === undefined || mp === 'no')) sink.add('incomplete', 'error', key('fp8_base'), 'fp8_base needs mixed_precision "fp16" or "bf16".');
  if (on('cache_latents') || on('cache_latents_to_disk')) {
    const c = on('cache_latents') ? 'cache_latents' : 'cache_latents_to_disk';
    for (const n of ['color_aug', 'random_crop']) {
      if (on(n)) sink.add('conflict', 'error', key(n), `${n} cannot be used with ${c}: cached latents are computed once, so sd-scripts stops.`);
    }
  }
  const steps = values.num('bucket_reso_steps');
  if (steps !== undefined && values.get('bucket_reso_steps')?.kind === 'integer' && steps % 32 !== 0) {
    const fixed = Math.max(32, Math.round(steps / 32) * 32);
    sink.add('conflict', 'error', valueAt(values, 'bucket_reso_steps') ?? [0, 0], `bucket_reso_steps is ${steps}; SDXL needs a multiple of 32 and sd-scripts stops.`, [{ title: `Write ${fixed}`, edits: [{ offsets: valueAt(values, 'bucket_reso_steps') ?? [0, 0], newText: String(fixed) }], preferred: true }]);
  }
  if (values.has('max_train_epochs') && values.has('max_train_steps')) {
    sink.add('ignored-option', 'info', key('max_train_steps'), 'max_train_epochs is set, so sd-scripts computes the step count from it and ignores max_train_steps.');
  }
  if (on('xformers') && on('sdpa')) sink.add('ignored-option', 'warning', key('sdpa'), 'xformers and sdpa are both on: sd-scripts uses xformers and ignores sdpa.');
  if (on('mem_eff_attn') && (on('xformers') || on('sdpa'))) sink.add('ignored-option', 'warning', key('mem_eff_attn'), 'mem_eff_attn takes precedence over xformers/sdpa and is much slower; turn it off.');
  if (values.has('adaptive_noise_scale') && !values.has('noise_offset')) sink.add('incomplete', 'error', key('adaptive_noise_scale'), 'adaptive_noise_scale needs noise_offset: sd-scripts stops with a ValueError.');
  if (on('scale_v_pred_loss_like_noise_pred') && !on('v_parameterization')) sink.add('incomplete', 'error', key('scale_v_pred_loss_like_noise_pred'), 'scale_v_pred_loss_like_noise_pred needs v_parameterization.');
  if (values.has('v_pred_like_loss') && on('v_parameterization')) sink.add('conflict', 'error', key('v_pred_like_loss'), 'v_pred_like_loss cannot be used with v_parameterization.');
  if (on('fused_backward_pass')) {
    const opt = (values.str('optimizer_type') ?? '').toLowerCase();
    if (opt !== 'adafactor') sink.add('conflict', 'error', key('fused_backward_pass'), 'fused_backward_pass works only with optimizer_type = "AdaFactor".');
    const ga = values.num('gradient_accumulation_steps');
    if (ga !== undefined && ga !== 1) sink.add('conflict', 'error', key('gradient_accumulation_steps'), 'fused_backward_pass needs gradient_accumulation_steps = 1.');
  }
  for (const n of ['sample_every_n_epochs', 'sample_every_n_steps']) {
    const x = values.num(n);
    if (x !== undefined && x <= 0) sink.add('ignored-option', 'warning', valueAt(values, n) ?? [0, 0], `${n} = ${x} turns sampling off (sd-scripts treats values ≤ 0 as unset).`);
  }
  if ((values.num('sample_every_n_epochs') ?? 0) > 0 && values.has('sample_every_n_steps')) {
    sink.add('ignored-option', 'info', key('sample_every_n_steps'), 'sample_every_n_epochs is set, so sd-scripts ignores sample_every_n_steps.');
  }
  if ((values.has('sample_every_n_epochs') || values.has('sample_every_n_steps') || on('sample_at_first')) && !values.has('sample_prompts')) {
    const k = values.has('sample_every_n_epochs') ? 'sample_every_n_epochs' : values.has('sample_every_n_steps') ? 'sample_every_n_steps' : 'sample_at_first';
    sink.add('incomplete', 'info', key(k), 'No sample_prompts file is set here; sd-scripts makes no sample images unless one is given on the command line.');
  }
  const logWith = values.str('log_with');
  if ((logWith === 'tensorboard' || logWith === 'all') && !values.has('logging_dir')) sink.add('incomplete', 'error', key('log_with'), `log_with = "${logWith}" needs logging_dir: sd-scripts stops without it.`);
  const sched = values.str('lr_scheduler');
  if (sched?.startsWith('adafactor') && (values.str('optimizer_type') ?? '').toLowerCase() !== 'adafactor') sink.add('conflict', 'error', valueAt(values, 'lr_scheduler') ?? [0, 0], 'lr_scheduler "adafactor" works only with optimizer_type = "AdaFactor".');
  const warm = values.num('lr_warmup_steps') ?? 0;
  const schedName = sched ?? 'constant';
  if (warm > 0 && !values.has('lr_scheduler_type') && (schedName === 'constant' || schedName.startsWith('adafactor'))) {
    const fixes = [
      values.has('lr_scheduler')
        ? { title: 'Use lr_scheduler = "constant_with_warmup"', edits: [{ offsets: valueAt(values, 'lr_scheduler') ?? ([0, 0] as const), newText: '"constant_with_warmup"' }], preferred: true }
        : { title: 'Add lr_scheduler = "constant_with_warmup"', edits: [insertAfter(doc, values, 'lr_warmup_steps', 'lr_scheduler = "constant_with_warmup"')], preferred: true },
      { title: 'Set lr_warmup_steps = 0', edits: [{ offsets: valueAt(values, 'lr_warmup_steps') ?? ([0, 0] as const), newText: '0' }] },
    ];
    sink.add('conflict', 'error', key('lr_warmup_steps'), `lr_scheduler "${schedName}"${sched === undefined ? ' (the default)' : ''} has no warm-up: sd-scripts stops with "${schedName} does not require \`num_warmup_steps\`". Use "constant_with_warmup" or set lr_warmup_steps = 0.`, fixes);
  }
  if (values.has('lr_scheduler_type') && (values.num('lr_warmup_steps') ?? 0) > 0) sink.add('conflict', 'error', key('lr_warmup_steps'), 'lr_scheduler_type (a custom scheduler) cannot be combined with lr_warmup_steps.');
  if (values.has('clip_skip')) sink.add('advice', 'warning', key('clip_skip'), 'clip_skip is not meant for SDXL: sd-scripts only warns and the result is unpredictable.');
  if (values.has('dataset_config')) {
    for (const n of ['train_data_dir', 'reg_data_dir', 'in_json']) {
      if (values.has(n)) sink.add('ignored-option', 'warning', key(n), `${n} is ignored because dataset_config is set (sd-scripts takes the folders from the dataset config).`);
    }
  }
  // network
  const dim = values.num('network_dim') ?? (values.has('network_dim') ? undefined : 4);
  const alpha = values.num('network_alpha');
  if (dim !== undefined && alpha !== undefined && alpha > dim) {
    sink.add('advice', 'info', valueAt(values, 'network_alpha') ?? [0, 0], `network_alpha (${alpha}) is greater than network_dim (${dim}${values.has('network_dim') ? '' : ', the default'}): the LoRA is scaled by ${+(alpha / dim).toFixed(3)}, which acts like a much higher learning rate. Usually alpha ≤ dim.`);
  }
  const optType = (values.str('optimizer_type') ?? '').toLowerCase();
  if (optType.startsWith('prodigy') || optType.startsWith('dadapt')) {
    for (const n of ['learning_rate', 'unet_lr']) {
      const lr = values.num(n);
      if (lr !== undefined && lr < 0.1) sink.add('advice', 'info', valueAt(values, n) ?? [0, 0], `${values.str('optimizer_type')} adapts the step size itself and expects ${n} around 1; ${lr} makes it learn very slowly.`);
    }
  }
  if (mp === 'fp16' && !on('no_half_vae')) sink.add('advice', 'info', key('mixed_precision'), 'The SDXL VAE produces NaN (black images) in fp16; add no_half_vae = true or use a fixed fp16 VAE.');
  if (values.has('caption_extention')) sink.add('advice', 'info', key('caption_extention'), 'caption_extention is an old misspelling of caption_extension; when set it overrides caption_extension.');
  const ce = values.str('caption_extension');
  if (ce !== undefined && ce !== '' && !ce.startsWith('.')) sink.add('advice', 'hint', valueAt(values, 'caption_extension') ?? [0, 0], `sd-scripts adds the missing dot: "${ce}" is read as ".${ce}".`);
  if (on('network_train_unet_only') && values.has('text_encoder_lr')) sink.add('ignored-option', 'info', key('text_encoder_lr'), 'network_train_unet_only is on, so the text encoders are not trained and text_encoder_lr is not used.');
  if (on('persistent_data_loader_workers') && values.num('max_data_loader_n_workers') === 0) {
    sink.add('conflict', 'error', key('persistent_data_loader_workers'), 'persistent_data_loader_workers needs max_data_loader_n_workers > 0: PyTorch refuses persistent workers without worker processes.');
  }
  if (on('network_train_unet_only') && on('network_train_text_encoder_only')) sink.add('conflict', 'error', key('network_train_text_encoder_only'), 'network_train_unet_only and network_train_text_encoder_only exclude each other: nothing would be trained.');
  // bucket range against resolution (only when no dataset config overrides them)
  const res = values.str('resolution');
  const parsed = res !== undefined ? parseResolutionString(res) : undefined;
  if (parsed && on('enable_bucket') && !values.has('dataset_config')) {
    const st = values.num('bucket_reso_steps') ?? 64;
    if (st > 0) {
      const min = values.num('min_bucket_reso') ?? 256;
      const max = values.num('max_bucket_reso') ?? 1024;
      const minAdj = min - (min % st);
      const maxAdj = max % st === 0 ? max : max + st - (max % st);
      if (Math.min(...parsed) < minAdj) sink.add('conflict', 'error', key(values.has('min_bucket_reso') ? 'min_bucket_reso' : 'resolution'), `min_bucket_reso (${minAdj}) is greater than the resolution's smaller side (${Math.min(...parsed)}): sd-scripts stops.`);
      if (Math.max(...parsed) > maxAdj) sink.add('conflict', 'error', key(values.has('max_bucket_reso') ? 'max_bucket_reso' : 'resolution'), `max_bucket_reso (${maxAdj}${values.has('max_bucket_reso') ? '' : ', the default'}) is smaller than the resolution's larger side (${Math.max(...parsed)}): sd-scripts stops.`);
    }
  }
}

function checkPaths(values: TrainingValues, sink: DiagnosticSink, fs: ConfigFileSystem, baseDir: string): void {
  for (const [name, kind] of Object.entries(PATH_OPTIONS)) {
    const f = values.options.get(name);
    if (!f) continue;
    const items = f.value.kind === 'array' ? f.value.items : [f.value];
    for (const item of items) {
      if (item.kind !== 'string') continue;
      const p = item.value;
      if (isPlaceholderPath(p)) {
        sink.add('placeholder-path', 'warning', item.offsets, `${name} is still a placeholder ("${p}"): put the real path here.`);
        continue;
      }
      if (kind === 'model' && looksLikeHubId(p) && !fs.exists(resolveConfigPath(baseDir, p))) continue; // a Hugging Face model id
      const abs = resolveConfigPath(baseDir, p);
      const exists = fs.exists(abs);
      const rel = isAbsoluteConfigPath(p) ? '' : ` (relative paths are resolved from the folder sd-scripts runs in; checked against ${baseDir})`;
      if (kind === 'outDir' || kind === 'outFile') {
        if (exists && kind === 'outDir' && !fs.isDirectory(abs)) sink.add('path-kind', 'error', item.offsets, `${name} "${p}" is a file, not a folder.`);
        if (!exists) {
          const parent = path.dirname(abs);
          if (!fs.exists(parent)) sink.add('path-not-found', 'info', item.offsets, `Neither "${p}" nor its parent folder exists yet; sd-scripts will create them. Check for a typo${rel}.`);
        }
        continue;
      }
      if (!exists) {
        sink.add('path-not-found', isAbsoluteConfigPath(p) ? 'error' : 'warning', item.offsets, `${name}: "${p}" does not exist${rel}.`);
        continue;
      }
      const isDir = fs.isDirectory(abs);
      if (kind === 'dir' && !isDir) sink.add('path-kind', 'error', item.offsets, `${name} must be a folder; "${p}" is a file.`);
      if (kind === 'file' && isDir) sink.add('path-kind', 'error', item.offsets, `${name} must be a file; "${p}" is a folder.`);
      if (name === 'dataset_config' && !/\.(toml|json)$/i.test(p)) sink.add('path-kind', 'error', item.offsets, 'sd-scripts reads a dataset config only from a .toml or .json file.');
      if (name === 'sample_prompts' && !/\.(txt|toml|json)$/i.test(p)) sink.add('path-kind', 'warning', item.offsets, 'sd-scripts reads sample prompts from .txt, .toml or .json files.');
      if ((name === 'train_data_dir' || name === 'reg_data_dir') && isDir && !values.has('dataset_config') && !(name === 'train_data_dir' && values.has('in_json'))) {
        checkConceptFolders(name, abs, p, item.offsets, sink, fs);
      }
    }
  }
}

const IMAGE_RE = /\.(png|jpg|jpeg|webp|bmp|PNG|JPG|JPEG|WEBP|BMP)$/;

function checkConceptFolders(name: string, abs: string, p: string, at: readonly [number, number], sink: DiagnosticSink, fs: ConfigFileSystem): void {
  const entries = fs.list(abs);
  const dirs = entries.filter((e) => !e.startsWith('.') && fs.isDirectory(path.join(abs, e)));
  const good = dirs.filter((d) => parseConceptFolderName(d).ok);
  const bad = dirs.filter((d) => !parseConceptFolderName(d).ok);
  const looseImages = entries.filter((e) => IMAGE_RE.test(e)).length;
  if (good.length === 0) {
    const why = looseImages ? ` The ${looseImages} image${looseImages === 1 ? '' : 's'} directly in "${p}" are not read: move them into a subfolder such as "10_mytoken".` : ' Put the images into subfolders named "<repeats>_<class tokens>", e.g. "10_mytoken".';
    sink.add('no-concept-folders', name === 'train_data_dir' ? 'error' : 'warning', at, `${name} "${p}" has no "N_name" subfolder, so sd-scripts finds no images${name === 'train_data_dir' ? ' and stops with "No data found"' : ''}.${why}`);
  } else if (bad.length) {
    sink.add('ignored-folder', 'warning', at, `sd-scripts skips ${bad.length === 1 ? 'the subfolder' : 'these subfolders'} of ${name} without a repeat count: ${bad.slice(0, 5).map((b) => `"${b}"`).join(', ')}${bad.length > 5 ? ' …' : ''}.`);
  }
}
