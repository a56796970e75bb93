/** New-config templates: a training config (LoRA / LoCon / LoHa with the seed article's SDXL settings) and a dataset config. */
import * as path from 'node:path';
import { NETWORK_PRESETS, type NetworkPreset } from './options';
import { parseConceptFolderName } from '../dataset/scan';
import { tomlString } from './text';
import type { ConfigFileSystem } from './types';

export interface TrainingTemplateOptions {
  network?: NetworkPreset['id'];
  pretrainedModel?: string;
  /** a dataset config file; when set, train_data_dir is not written */
  datasetConfig?: string;
  trainDataDir?: string;
  regDataDir?: string;
  /** .txt/.toml sample prompts */
  samplePrompts?: string;
  outputDir?: string;
  outputName?: string;
  loggingDir?: string;
  /** caption file extension of the dataset (".txt" for WD14 tags) */
  captionExtension?: string;
}

const q = tomlString;

/** A training config in the seed article's ten sections with its SDXL settings. */
export function newTrainingConfig(o: TrainingTemplateOptions = {}): string {
  const preset = NETWORK_PRESETS.find((p) => p.id === (o.network ?? 'lora')) ?? NETWORK_PRESETS[0];
  if (!preset) return '';
  const lines: string[] = [];
  const section = (name: string, body: string[]) => {
    lines.push(`[${name}]`, ...body, '');
  };
  section('sdxl_arguments', [
    'cache_text_encoder_outputs = true',
    'no_half_vae = true',
    'min_timestep = 0',
    'max_timestep = 1000',
    'shuffle_caption = false',
  ]);
  section('model_arguments', [`pretrained_model_name_or_path = ${q(o.pretrainedModel ?? '/path/to/sdxl_base_model.safetensors')}`]);
  const ds: string[] = [];
  if (o.datasetConfig) ds.push(`dataset_config = ${q(o.datasetConfig)}`);
  else {
    ds.push(`train_data_dir = ${q(o.trainDataDir ?? '/path/to/train_data_dir')}`);
    if (o.regDataDir) ds.push(`reg_data_dir = ${q(o.regDataDir)}`);
    ds.push(`caption_extension = ${q(o.captionExtension ?? '.txt')}`);
    ds.push('resolution = "1024,1024"', 'enable_bucket = true', 'min_bucket_reso = 512', 'max_bucket_reso = 2048', 'bucket_reso_steps = 64');
  }
  ds.push('keep_tokens = 0', 'color_aug = false', 'token_warmup_min = 1', 'token_warmup_step = 0');
  section('dataset_arguments', ds);
  section('training_arguments', [
    `output_dir = ${q(o.outputDir ?? '/path/to/output')}`,
    `output_name = ${q(o.outputName ?? `sdxl_${preset.id}`)}`,
    'save_precision = "fp16"',
    'save_every_n_epochs = 1',
    'train_batch_size = 4',
    'max_token_length = 225',
    'mem_eff_attn = false',
    'sdpa = true',
    'xformers = false',
    'max_train_epochs = 10',
    'max_data_loader_n_workers = 8',
    'persistent_data_loader_workers = true',
    'gradient_checkpointing = true',
    'gradient_accumulation_steps = 1',
    'mixed_precision = "fp16"',
  ]);
  section('logging_arguments', ['log_with = "tensorboard"', `logging_dir = ${q(o.loggingDir ?? (o.outputDir ? path.join(o.outputDir, 'logs') : '/path/to/logs'))}`, `log_prefix = ${q(o.outputName ?? `sdxl_${preset.id}`)}`]);
  const sample = ['sample_every_n_epochs = 1', 'sample_sampler = "euler_a"'];
  sample.unshift(`sample_prompts = ${q(o.samplePrompts ?? '/path/to/sample_prompts.txt')}`);
  section('sample_prompt_arguments', sample);
  section('saving_arguments', ['save_model_as = "safetensors"']);
  section('optimizer_arguments', [
    'optimizer_type = "AdaFactor"',
    'learning_rate = 1e-5',
    'max_grad_norm = 0',
    'optimizer_args = ["scale_parameter=False", "relative_step=False", "warmup_init=False"]',
    'lr_scheduler = "constant_with_warmup"',
    'lr_warmup_steps = 100',
  ]);
  section('additional_network_arguments', [
    'no_metadata = false',
    `network_module = ${q(preset.module)}`,
    `network_dim = ${preset.dim}`,
    `network_alpha = ${preset.alpha}`,
    `network_args = [${preset.args.map((a) => q(a)).join(', ')}]`,
    'network_train_unet_only = true',
  ]);
  lines.push('[advanced_training_config]', '');
  return lines.join('\n');
}

export interface DatasetFolder {
  /** the image folder (written as image_dir) */
  path: string;
  repeats?: number;
  classTokens?: string;
  isReg?: boolean;
}

export interface DatasetTemplateOptions {
  folders: readonly DatasetFolder[];
  /** integer or [w, h]; default 1024 */
  resolution?: number | readonly [number, number];
  batchSize?: number;
  /** default ".txt" (what WD14 writes) */
  captionExtension?: string;
  enableBucket?: boolean;
}

/** A dataset config with one DreamBooth-style subset per folder. */
export function newDatasetConfig(o: DatasetTemplateOptions): string {
  const res = o.resolution ?? 1024;
  const lines: string[] = [
    '[general]',
    `enable_bucket = ${o.enableBucket ?? true}`,
    'bucket_reso_steps = 64',
    'min_bucket_reso = 512',
    'max_bucket_reso = 2048',
    `caption_extension = ${q(o.captionExtension ?? '.txt')}`,
    'shuffle_caption = false',
    'keep_tokens = 1',
    '',
    '[[datasets]]',
    `resolution = ${typeof res === 'number' ? res : `[${res[0]}, ${res[1]}]`}`,
    `batch_size = ${o.batchSize ?? 4}`,
  ];
  for (const f of o.folders) {
    lines.push('', '  [[datasets.subsets]]', `  image_dir = ${q(f.path)}`, `  num_repeats = ${f.repeats ?? 1}`);
    if (f.classTokens) lines.push(`  class_tokens = ${q(f.classTokens)}`);
    if (f.isReg) lines.push('  is_reg = true');
  }
  lines.push('');
  return lines.join('\n');
}

/**
 * The folders of a kohya train_data_dir (and reg_data_dir) as subsets, with repeats and class tokens
 * taken from their `N_name` names: a dataset config does not read folder names, so they are written out.
 */
export function datasetFoldersFromKohyaDirs(fs: ConfigFileSystem, trainDataDir: string, regDataDir?: string): DatasetFolder[] {
  const out: DatasetFolder[] = [];
  const read = (dir: string, isReg: boolean) => {
    for (const name of fs.list(dir).sort()) {
      const full = path.join(dir, name);
      if (name.startsWith('.') || !fs.isDirectory(full)) continue;
      const c = parseConceptFolderName(name);
      if (!c.ok) continue;
      out.push({ path: full, repeats: c.repeats, ...(c.classTokens ? { classTokens: c.classTokens } : {}), ...(isReg ? { isReg: true } : {}) });
    }
  };
  read(trainDataDir, false);
  if (regDataDir) read(regDataDir, true);
  return out;
}
