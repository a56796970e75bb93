/**
 * The one option table: facts generated from sd-scripts (options.generated.ts) joined with our own
 * one-line docs (optionDocs.json), plus the hand-kept tables sd-scripts does not declare through
 * argparse: known values of free-text options, network_args entries, path options, the dataset
 * config schema and the sample-prompt keys. Completion, hover, checks and the JSON Schema all read it.
 */
import { KOHYA_OPTIONS, SEED_SECTIONS } from './options.generated';
import type { KohyaOptionFacts } from './optionTypes';
import docs from './optionDocs.json';

export { SEED_SECTIONS };
export type { KohyaOptionFacts };

export interface KohyaOption extends KohyaOptionFacts {
  summary: string;
  related: readonly string[];
}

const summaries = docs.summaries as Record<string, string>;
const related = docs.related as Record<string, string[]>;

export const OPTIONS: readonly KohyaOption[] = KOHYA_OPTIONS.map((o) => ({
  ...o,
  summary: summaries[o.name] ?? '',
  related: related[o.name] ?? [],
}));

export const OPTION_MAP: ReadonlyMap<string, KohyaOption> = new Map(OPTIONS.map((o) => [o.name, o]));

export function getOption(name: string): KohyaOption | undefined {
  return OPTION_MAP.get(name);
}

/** Values sd-scripts recognises for options that have no argparse choices (offered in completion only). */
export const KNOWN_VALUES: Readonly<Record<string, readonly string[]>> = {
  optimizer_type: [
    'AdamW', 'AdamW8bit', 'PagedAdamW', 'PagedAdamW8bit', 'PagedAdamW32bit', 'Lion', 'Lion8bit', 'PagedLion8bit',
    'SGDNesterov', 'SGDNesterov8bit', 'DAdaptation', 'DAdaptAdaGrad', 'DAdaptAdam', 'DAdaptAdan', 'DAdaptAdanIP',
    'DAdaptLion', 'DAdaptSGD', 'AdaFactor', 'Prodigy', 'RAdamScheduleFree', 'AdamWScheduleFree', 'SGDScheduleFree',
  ],
  lr_scheduler: [
    'constant', 'constant_with_warmup', 'linear', 'cosine', 'cosine_with_restarts', 'polynomial', 'inverse_sqrt',
    'cosine_with_min_lr', 'warmup_stable_decay', 'piecewise_constant', 'adafactor',
  ],
  network_module: ['networks.lora', 'networks.dylora', 'lycoris.kohya'],
  huggingface_repo_visibility: ['public', 'private'],
};

/** Short notes on known values, shown in completion. */
export const VALUE_NOTES: Readonly<Record<string, string>> = {
  'networks.lora': 'LoRA (and LoCon with conv_dim in network_args), built into sd-scripts',
  'networks.dylora': 'DyLoRA: trains several ranks at once (network_args unit=…)',
  'lycoris.kohya': 'LyCORIS (pip install lycoris_lora): LoCon, LoHa, LoKr … chosen with algo= in network_args',
  Prodigy: 'adaptive learning rate; use learning_rate = 1',
  AdaFactor: 'memory-light; often with relative_step=False and lr_scheduler constant_with_warmup',
  AdamW8bit: 'AdamW with 8-bit states (bitsandbytes): the usual choice',
};

export type PathKind = 'file' | 'dir' | 'fileOrDir' | 'model' | 'outDir' | 'outFile';

/** Options whose value is a path, and what must exist there for sd-scripts to start. */
export const PATH_OPTIONS: Readonly<Record<string, PathKind>> = {
  pretrained_model_name_or_path: 'model',
  vae: 'model',
  train_data_dir: 'dir',
  reg_data_dir: 'dir',
  in_json: 'file',
  dataset_config: 'file',
  sample_prompts: 'file',
  network_weights: 'file',
  log_tracker_config: 'file',
  resume: 'dir',
  conditioning_data_dir: 'dir',
  output_dir: 'outDir',
  logging_dir: 'outDir',
  tokenizer_cache_dir: 'outDir',
  console_log_file: 'outFile',
  metadata_thumbnail: 'fileOrDir',
  base_weights: 'file',
};

export interface NetworkArgDoc {
  name: string;
  /** snippet for the value part */
  value: string;
  summary: string;
  modules: readonly string[];
}

const LORA = ['networks.lora'];
const LYCO = ['lycoris.kohya'];
const BOTH = ['networks.lora', 'lycoris.kohya'];

/** `network_args` entries offered in completion and checked for networks.lora. */
export const NETWORK_ARGS: readonly NetworkArgDoc[] = [
  { name: 'conv_dim', value: '${1:4}', summary: 'Rank of the 3×3 convolution layers; setting it turns LoRA into LoCon.', modules: BOTH },
  { name: 'conv_alpha', value: '${1:1}', summary: 'Alpha of the convolution layers (like network_alpha).', modules: BOTH },
  { name: 'algo', value: '${1|locon,loha,lokr,ia3,full,dylora,diag-oft,boft|}', summary: 'LyCORIS algorithm: locon, loha, lokr …', modules: LYCO },
  { name: 'preset', value: '${1|full,attn-mlp,attn-only,unet-transformer-only,unet-convblock-only|}', summary: 'LyCORIS: which layers are trained.', modules: LYCO },
  { name: 'dropout', value: '${1:0}', summary: 'LyCORIS dropout.', modules: LYCO },
  { name: 'factor', value: '${1:-1}', summary: 'LoKr factor (-1: automatic).', modules: LYCO },
  { name: 'rank_dropout', value: '${1:0.1}', summary: 'Drop ranks at random each step (0–1).', modules: LORA },
  { name: 'module_dropout', value: '${1:0.1}', summary: 'Skip whole LoRA modules at random each step (0–1).', modules: LORA },
  { name: 'block_dims', value: '${1:2,2,2,2,4,4,4,4,6,6,6,6,8,6,6,6,6,4,4,4,4,2,2,2,2}', summary: 'Rank per U-Net block (comma-separated).', modules: LORA },
  { name: 'block_alphas', value: '${1}', summary: 'Alpha per U-Net block (comma-separated).', modules: LORA },
  { name: 'conv_block_dims', value: '${1}', summary: 'Convolution rank per U-Net block.', modules: LORA },
  { name: 'conv_block_alphas', value: '${1}', summary: 'Convolution alpha per U-Net block.', modules: LORA },
  { name: 'down_lr_weight', value: '${1}', summary: 'Learning-rate weights of the down blocks.', modules: LORA },
  { name: 'mid_lr_weight', value: '${1}', summary: 'Learning-rate weight of the mid block.', modules: LORA },
  { name: 'up_lr_weight', value: '${1}', summary: 'Learning-rate weights of the up blocks.', modules: LORA },
  { name: 'block_lr_zero_threshold', value: '${1:0.1}', summary: 'Blocks whose LR weight is below this are not trained.', modules: LORA },
  { name: 'loraplus_lr_ratio', value: '${1:16}', summary: 'LoRA+: the B matrices learn this many times faster (U-Net and text encoder).', modules: LORA },
  { name: 'loraplus_unet_lr_ratio', value: '${1:16}', summary: 'LoRA+ ratio for the U-Net only.', modules: LORA },
  { name: 'loraplus_text_encoder_lr_ratio', value: '${1:4}', summary: 'LoRA+ ratio for the text encoders only.', modules: LORA },
];

/** LoRA / LoCon / LoHa presets as in the seed article (network part only). */
export interface NetworkPreset {
  id: 'lora' | 'locon' | 'loha';
  label: string;
  module: string;
  dim: number;
  alpha: number;
  args: readonly string[];
  summary: string;
}

export const NETWORK_PRESETS: readonly NetworkPreset[] = [
  { id: 'lora', label: 'LoRA', module: 'networks.lora', dim: 32, alpha: 16, args: [], summary: 'plain LoRA on the attention and linear layers' },
  { id: 'locon', label: 'LoCon', module: 'networks.lora', dim: 32, alpha: 16, args: ['conv_dim=32', 'conv_alpha=16'], summary: 'LoRA plus the convolution layers (the seed article\'s setting)' },
  { id: 'loha', label: 'LoHa', module: 'lycoris.kohya', dim: 16, alpha: 8, args: ['algo=loha', 'conv_dim=8', 'conv_alpha=4'], summary: 'LyCORIS LoHa (Hadamard product); needs the lycoris_lora package' },
];

// ---------------------------------------------------------------------------------------------
// Dataset config (library/config_util.py): exact voluptuous types and the levels keys may be at.

/**
 * Value types of the dataset schema. voluptuous checks isinstance, so 'int' accepts a boolean
 * (bool is an int subclass) and 'float' does NOT accept an int.
 */
export type DatasetValueType = 'int' | 'float' | 'bool' | 'str' | 'floatOrInt' | 'resolution' | 'floatPair' | 'table';

export type DatasetGroup = 'DATASET' | 'SUBSET' | 'DO' | 'DB_ASC' | 'DB_DISTINCT' | 'FT_DISTINCT' | 'CN_ASC' | 'CN_DISTINCT';

export interface DatasetKey {
  name: string;
  type: DatasetValueType;
  groups: readonly DatasetGroup[];
  summary: string;
  required?: 'dreambooth' | 'finetuning' | 'controlnet';
}

export const DATASET_KEYS: readonly DatasetKey[] = [
  { name: 'batch_size', type: 'int', groups: ['DATASET'], summary: 'Images per batch for this dataset (train_batch_size on the command line).' },
  { name: 'bucket_no_upscale', type: 'bool', groups: ['DATASET'], summary: 'Never enlarge small images when bucketing.' },
  { name: 'bucket_reso_steps', type: 'int', groups: ['DATASET'], summary: 'Bucket sides are multiples of this (SDXL: a multiple of 32).' },
  { name: 'enable_bucket', type: 'bool', groups: ['DATASET'], summary: 'Aspect-ratio bucketing for this dataset.' },
  { name: 'max_bucket_reso', type: 'int', groups: ['DATASET'], summary: 'Largest bucket side; must be ≥ the resolution.' },
  { name: 'min_bucket_reso', type: 'int', groups: ['DATASET'], summary: 'Smallest bucket side; must be ≤ the resolution.' },
  { name: 'validation_seed', type: 'int', groups: ['DATASET'], summary: 'Seed for picking validation images.' },
  { name: 'validation_split', type: 'float', groups: ['DATASET'], summary: 'Fraction held back for validation; a float (0.0, not 0).' },
  { name: 'resolution', type: 'resolution', groups: ['DATASET'], summary: 'Training resolution: an integer (1024) or [width, height]. Unlike the training config, not a string.' },
  { name: 'network_multiplier', type: 'float', groups: ['DATASET'], summary: 'LoRA multiplier while training on this dataset (a float).' },
  { name: 'resize_interpolation', type: 'str', groups: ['DATASET', 'SUBSET'], summary: 'Resampling filter: lanczos, nearest, bilinear, linear, bicubic, cubic, area or box.' },
  { name: 'color_aug', type: 'bool', groups: ['SUBSET'], summary: 'Random colour shifts (not with cached latents).' },
  { name: 'face_crop_aug_range', type: 'floatPair', groups: ['SUBSET'], summary: 'Face-crop augmentation range: exactly two floats, e.g. [2.0, 4.0].' },
  { name: 'flip_aug', type: 'bool', groups: ['SUBSET'], summary: 'Random horizontal flips.' },
  { name: 'num_repeats', type: 'int', groups: ['SUBSET'], summary: 'How often each image is used per epoch. Folder names are not read when a dataset config is used.' },
  { name: 'random_crop', type: 'bool', groups: ['SUBSET'], summary: 'Random instead of centred crops (not with cached latents).' },
  { name: 'shuffle_caption', type: 'bool', groups: ['SUBSET'], summary: 'Shuffle the tags of each caption.' },
  { name: 'keep_tokens', type: 'int', groups: ['SUBSET'], summary: 'Leading tags kept in place when shuffling.' },
  { name: 'keep_tokens_separator', type: 'str', groups: ['SUBSET'], summary: 'Marker in captions separating fixed from shuffled tags.' },
  { name: 'secondary_separator', type: 'str', groups: ['SUBSET'], summary: 'A second separator that is not split when shuffling.' },
  { name: 'caption_separator', type: 'str', groups: ['SUBSET'], summary: 'Separator of tags (a comma by default).' },
  { name: 'enable_wildcard', type: 'bool', groups: ['SUBSET'], summary: 'Use every caption line (one at random) and {a|b} alternatives.' },
  { name: 'token_warmup_min', type: 'int', groups: ['SUBSET'], summary: 'Tags used at the start of token warm-up.' },
  { name: 'token_warmup_step', type: 'floatOrInt', groups: ['SUBSET'], summary: 'Step at which all tags are used (below 1: a fraction of all steps).' },
  { name: 'caption_prefix', type: 'str', groups: ['SUBSET'], summary: 'Text put before every caption.' },
  { name: 'caption_suffix', type: 'str', groups: ['SUBSET'], summary: 'Text put after every caption.' },
  { name: 'custom_attributes', type: 'table', groups: ['SUBSET'], summary: 'A table passed to the training batches (e.g. {diff_output_preservation = true}).' },
  { name: 'caption_dropout_every_n_epochs', type: 'int', groups: ['DO'], summary: 'Empty captions every Nth epoch.' },
  { name: 'caption_dropout_rate', type: 'floatOrInt', groups: ['DO'], summary: 'Probability of an empty caption.' },
  { name: 'caption_tag_dropout_rate', type: 'floatOrInt', groups: ['DO'], summary: 'Probability of dropping each tag.' },
  { name: 'caption_extension', type: 'str', groups: ['DB_ASC', 'CN_ASC'], summary: 'Extension of caption files (.caption by default; WD14 writes .txt). DreamBooth-style only.' },
  { name: 'class_tokens', type: 'str', groups: ['DB_ASC'], summary: 'Caption used for images without a caption file (e.g. the trigger word and class). DreamBooth-style only.' },
  { name: 'cache_info', type: 'bool', groups: ['DB_ASC', 'CN_ASC'], summary: 'Cache captions and sizes in metadata_cache.json. DreamBooth-style only.' },
  { name: 'image_dir', type: 'str', groups: ['DB_DISTINCT', 'FT_DISTINCT', 'CN_DISTINCT'], summary: 'Folder with this subset\'s images (read non-recursively). Required for DreamBooth-style subsets.', required: 'dreambooth' },
  { name: 'is_reg', type: 'bool', groups: ['DB_DISTINCT'], summary: 'The images are regularisation images.' },
  { name: 'alpha_mask', type: 'bool', groups: ['DB_DISTINCT', 'FT_DISTINCT'], summary: 'Use the alpha channel as loss mask.' },
  { name: 'metadata_file', type: 'str', groups: ['FT_DISTINCT'], summary: 'Metadata JSON of a fine-tuning subset (captions per image). Required for fine-tuning subsets.', required: 'finetuning' },
  { name: 'conditioning_data_dir', type: 'str', groups: ['CN_DISTINCT'], summary: 'Conditioning images; only accepted with masked_loss.', required: 'controlnet' },
];

export const DATASET_KEY_MAP: ReadonlyMap<string, DatasetKey> = new Map(DATASET_KEYS.map((k) => [k.name, k]));

export type DatasetLevel = 'general' | 'dataset' | 'subset';
export type DatasetStyle = 'dreambooth' | 'finetuning' | 'controlnet';

/** Groups accepted at a level for a dataset style (config_util.ConfigSanitizer). */
export function groupsAt(level: DatasetLevel, style: DatasetStyle, maskedLoss: boolean): ReadonlySet<DatasetGroup> {
  if (level === 'general') {
    const g: DatasetGroup[] = ['DATASET', 'SUBSET', 'DB_ASC', 'DO'];
    if (maskedLoss) g.push('CN_ASC');
    return new Set(g);
  }
  if (level === 'dataset') {
    if (style === 'dreambooth') return new Set<DatasetGroup>(['DATASET', 'SUBSET', 'DB_ASC', 'DO']);
    if (style === 'controlnet') return new Set<DatasetGroup>(['DATASET', 'SUBSET', 'CN_ASC', 'DO']);
    return new Set<DatasetGroup>(['DATASET', 'SUBSET', 'DO']);
  }
  if (style === 'dreambooth') return new Set<DatasetGroup>(['SUBSET', 'DB_DISTINCT', 'DB_ASC', 'DO']);
  if (style === 'controlnet') return new Set<DatasetGroup>(['SUBSET', 'CN_DISTINCT', 'CN_ASC', 'DO']);
  return new Set<DatasetGroup>(['SUBSET', 'FT_DISTINCT', 'DO']);
}

/** Keys sd-scripts takes only from the command line / training config, never from a dataset config. */
export const ARGPARSE_ONLY_DATASET_KEYS: readonly string[] = ['prior_loss_weight', 'debug_dataset', 'max_token_length'];

export const RESIZE_INTERPOLATIONS: readonly string[] = ['lanczos', 'nearest', 'bilinear', 'linear', 'bicubic', 'cubic', 'area', 'box'];

// ---------------------------------------------------------------------------------------------
// Sample prompts

export interface PromptKey {
  name: string;
  type: 'str' | 'int' | 'number';
  summary: string;
  /** the --x option of the .txt format */
  txt?: string;
}

export const PROMPT_KEYS: readonly PromptKey[] = [
  { name: 'prompt', type: 'str', summary: 'The prompt of the sample image.' },
  { name: 'negative_prompt', type: 'str', summary: 'What the sample should not show.', txt: 'n' },
  { name: 'width', type: 'int', summary: 'Width in pixels (512 when unset, even for SDXL; rounded down to a multiple of 8).', txt: 'w' },
  { name: 'height', type: 'int', summary: 'Height in pixels (512 when unset, even for SDXL; rounded down to a multiple of 8).', txt: 'h' },
  { name: 'seed', type: 'int', summary: 'Seed of the sample (random when unset).', txt: 'd' },
  { name: 'sample_steps', type: 'int', summary: 'Sampling steps (30 when unset; clamped to 1–1000).', txt: 's' },
  { name: 'scale', type: 'number', summary: 'CFG scale (7.5 when unset).', txt: 'l' },
  { name: 'sample_sampler', type: 'str', summary: 'Sampler for this sample (sample_sampler of the training config when unset).', txt: 'ss' },
  { name: 'controlnet_image', type: 'str', summary: 'Conditioning image for ControlNet samples.', txt: 'cn' },
  { name: 'guidance_scale', type: 'number', summary: 'Distilled guidance scale (FLUX only; ignored for SDXL).', txt: 'g' },
];

export const PROMPT_KEY_MAP: ReadonlyMap<string, PromptKey> = new Map(PROMPT_KEYS.map((k) => [k.name, k]));

/** The `--x` options of a .txt prompt line, with the pattern sd-scripts matches (case-insensitive). */
export const PROMPT_TXT_OPTIONS: readonly { flag: string; pattern: RegExp; key: string; summary: string }[] = [
  { flag: 'n', pattern: /^n (.+)/i, key: 'negative_prompt', summary: 'negative prompt' },
  { flag: 'w', pattern: /^w (\d+)/i, key: 'width', summary: 'width in pixels' },
  { flag: 'h', pattern: /^h (\d+)/i, key: 'height', summary: 'height in pixels' },
  { flag: 'd', pattern: /^d (\d+)/i, key: 'seed', summary: 'seed' },
  { flag: 's', pattern: /^s (\d+)/i, key: 'sample_steps', summary: 'sampling steps (1–1000)' },
  { flag: 'l', pattern: /^l ([\d.]+)/i, key: 'scale', summary: 'CFG scale' },
  { flag: 'g', pattern: /^g ([\d.]+)/i, key: 'guidance_scale', summary: 'guidance scale (FLUX)' },
  { flag: 'ss', pattern: /^ss (.+)/i, key: 'sample_sampler', summary: 'sampler' },
  { flag: 'cn', pattern: /^cn (.+)/i, key: 'controlnet_image', summary: 'ControlNet image' },
  { flag: 'ctr', pattern: /^ctr/i, key: '', summary: 'other architectures only' },
  { flag: 'rcfg', pattern: /^rcfg/i, key: '', summary: 'other architectures only' },
  { flag: 'fs', pattern: /^fs/i, key: '', summary: 'other architectures only' },
];
