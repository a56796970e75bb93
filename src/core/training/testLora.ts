/**
 * "Test the LoRA" (issue 5, item 7): runs sd-scripts' `sdxl_gen_img.py` with the base model and
 * one or more saved LoRA files over the run's prompts at several strengths, then maps the images
 * back to prompt × strength × epoch in `<output_dir>/lora_test/lora_test.json`.
 *
 * How images are mapped (see README): ONE gen_img process loads every chosen checkpoint as its
 * own network (`--network_module m m … --network_weights a b …`) and each line of the generated
 * `--from_file` prompt file switches them with `--am` (e.g. `--am 0,0.4,0`: only the second
 * checkpoint, at 0.4). With `--sequential_file_name` and `--images_per_prompt 1` gen_img names
 * the image of line k `im_{k:06d}.png` (1-based, in file order), so the file name alone says
 * which prompt, strength and epoch it shows; the `prompt` text chunk gen_img writes into every
 * PNG is checked against the expected prompt, and images older than the run are ignored. Every
 * line carries a fixed seed (`--d`), so the strengths and epochs of a prompt are comparable.
 *
 * Pure: strings and buffers in, plain data out (path maths with node:path only).
 */
import * as nodePath from 'node:path';
import { allEntries, parseTomlDocument, plainValue } from '../config/document';
import { parseCheckpointName } from './runs';
import { processEnvironment, type Platform, type SpawnSpec } from './command';

export const GEN_IMG_SCRIPT = 'sdxl_gen_img.py';
export const DEFAULT_STRENGTHS: readonly number[] = [0.2, 0.4, 0.6, 0.8, 1.0];
export const DEFAULT_TEST_SEED = 1234;
export const DEFAULT_TEST_STEPS = 30;
export const LORA_TEST_FOLDER = 'lora_test';
export const LORA_TEST_JSON = 'lora_test.json';
export const LORA_TEST_PROMPTS = 'lora_test_prompts.txt';

/** A `tasks.json` entry of type `loraWorkbench.testLora`. */
export interface TestLoraTaskDefinition {
  /** the training config: base model, output folder, network module and sample prompts come from it */
  config: string;
  /** LoRA files to test (one column of epochs each); default: the final `<output_name>.safetensors` */
  checkpoints?: string[];
  /** prompt file (.txt, .toml or .json, sample-prompt syntax); default: the config's sample_prompts */
  prompts?: string;
  /** LoRA strengths (`--am`); default 0.2, 0.4, 0.6, 0.8, 1.0 */
  strengths?: number[];
  /** seed of every image (a prompt's own `--d` wins); default 1234 */
  seed?: number;
  /** sampling steps (`--steps`; a prompt's `--s` wins); default 30 */
  steps?: number;
  /** `--sampler`; default euler_a */
  sampler?: string;
  /** image size (`--W`/`--H`; a prompt's `--w`/`--h` win); default 1024 */
  width?: number;
  height?: number;
  /** base model (`--ckpt`); default: the config's pretrained_model_name_or_path */
  baseModel?: string;
  /** default: the config's network_module, else networks.lora */
  networkModule?: string;
  /** extra gen_img arguments, passed unchanged at the end */
  args?: string[];
  env?: Record<string, string>;
}

/** What a test run needs from the training config (relative paths resolved from sd-scripts' folder). */
export interface TrainingConfigFacts {
  baseModel?: string;
  outputDir?: string;
  outputName?: string;
  networkModule?: string;
  samplePrompts?: string;
  mixedPrecision?: string;
  xformers?: boolean;
  sdpa?: boolean;
  vae?: string;
  saveModelAs?: string;
}

/** Reads the keys a test run needs; relative paths resolve from `baseDir` (sd-scripts' folder, where the training ran). */
export function trainingConfigFacts(text: string, baseDir: string, platform: Platform = 'linux'): TrainingConfigFacts {
  const p = platform === 'win32' ? nodePath.win32 : nodePath.posix;
  const o: Record<string, unknown> = {};
  try {
    for (const e of allEntries(parseTomlDocument(text))) o[e.keyPath[e.keyPath.length - 1] ?? e.key] = plainValue(e.value);
  } catch {
    /* nothing usable */
  }
  const str = (k: string): string | undefined => (typeof o[k] === 'string' && (o[k] as string).trim() !== '' ? (o[k] as string) : undefined);
  const file = (k: string): string | undefined => {
    const v = str(k);
    return v === undefined ? undefined : p.resolve(baseDir, v);
  };
  const facts: TrainingConfigFacts = {};
  const set = <K extends keyof TrainingConfigFacts>(k: K, v: TrainingConfigFacts[K] | undefined): void => {
    if (v !== undefined) facts[k] = v;
  };
  set('baseModel', file('pretrained_model_name_or_path'));
  set('outputDir', file('output_dir'));
  set('outputName', str('output_name'));
  set('networkModule', str('network_module'));
  set('samplePrompts', file('sample_prompts'));
  set('mixedPrecision', str('mixed_precision'));
  set('vae', file('vae'));
  set('saveModelAs', str('save_model_as'));
  if (o['xformers'] === true) facts.xformers = true;
  if (o['sdpa'] === true) facts.sdpa = true;
  return facts;
}

// ---------------------------------------------------------------------------------------------
// prompts

/** One prompt: the text sd-scripts generates from and its options as written (` --w 1024 --d 5`). */
export interface TestPrompt {
  text: string;
  options: string;
}

function fromLine(line: string): TestPrompt | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return undefined;
  const at = t.indexOf(' --');
  const text = (at < 0 ? t : t.slice(0, at)).trim();
  if (text === '') return undefined;
  return { text, options: at < 0 ? '' : t.slice(at) };
}

const TOML_OPTION: Record<string, string> = {
  negative_prompt: 'n',
  width: 'w',
  height: 'h',
  seed: 'd',
  sample_steps: 's',
  scale: 'l',
};

function fromDict(d: Record<string, unknown>): TestPrompt | undefined {
  const text = typeof d['prompt'] === 'string' ? d['prompt'].trim() : '';
  if (!text) return undefined;
  let options = '';
  for (const [k, flag] of Object.entries(TOML_OPTION)) {
    const v = d[k];
    if (typeof v === 'string' || typeof v === 'number') options += ` --${flag} ${String(v).replace(/\s+--/g, ' -')}`;
  }
  return { text, options };
}

export type PromptsResult = { ok: true; prompts: TestPrompt[]; warnings: string[] } | { ok: false; error: string };

/**
 * The prompts of a sample-prompt file, read the way sd-scripts reads `--sample_prompts`: `.txt`
 * (one per line, `#` comments), `.toml` (`[prompt]` shared keys + `[[prompt.subset]]`) or `.json`
 * (strings or dicts). Never throws.
 */
export function parseTestPrompts(text: string, fileName: string): PromptsResult {
  const warnings: string[] = [];
  const ext = nodePath.extname(fileName).toLowerCase();
  const prompts: TestPrompt[] = [];
  try {
    if (ext === '.toml') {
      const doc = parseTomlDocument(text);
      if (doc.syntaxErrors.length) return { ok: false, error: `${fileName} is not valid TOML: ${doc.syntaxErrors[0]?.message ?? 'syntax error'}` };
      const shared: Record<string, unknown> = {};
      const subsets: Record<string, unknown>[] = [];
      for (const t of doc.tables) {
        const o: Record<string, unknown> = {};
        for (const e of t.entries) o[e.keyPath.join('.')] = plainValue(e.value);
        if (t.path.join('.') === 'prompt' && t.kind === 'standard') Object.assign(shared, o);
        else if (t.path.join('.') === 'prompt.subset' && t.kind === 'array') subsets.push(o);
      }
      for (const s of subsets) {
        const p = fromDict({ ...shared, ...s });
        if (p) prompts.push(p);
      }
    } else if (ext === '.json') {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (e) {
        return { ok: false, error: `${fileName} is not valid JSON: ${(e as Error).message}` };
      }
      if (!Array.isArray(data)) return { ok: false, error: `${fileName} must hold a list of prompts` };
      for (const item of data) {
        const p = typeof item === 'string' ? fromLine(item) : item && typeof item === 'object' ? fromDict(item as Record<string, unknown>) : undefined;
        if (p) prompts.push(p);
      }
    } else {
      for (const line of text.split(/\r?\n/)) {
        const p = fromLine(line);
        if (p) prompts.push(p);
      }
    }
  } catch (e) {
    return { ok: false, error: `${fileName} could not be read: ${(e as Error).message}` };
  }
  if (prompts.length === 0) return { ok: false, error: `${fileName} holds no prompt` };
  for (const p of prompts) {
    // gen_img expands {a|b} into several images, which would shift the numbering
    if (/\{[^{}]*\|[^{}]*\}/.test(p.text)) warnings.push(`The prompt "${p.text}" has {a|b} variants: gen_img makes one image per variant, so its images cannot be placed in the grid.`);
  }
  return { ok: true, prompts, warnings };
}

/** One line of the generated prompt file: what its image shows. */
export interface TestLine {
  /** 1-based line number = gen_img's sequence number */
  seq: number;
  prompt: number;
  strength: number;
  /** index into the checkpoints */
  checkpoint: number;
  text: string;
}

export interface TestPlan {
  prompts: string[];
  strengths: number[];
  /** epoch per checkpoint (null: final or step checkpoint) */
  epochs: (number | null)[];
  checkpoints: string[];
  lines: TestLine[];
  /** the `--from_file` text */
  promptFile: string;
  warnings: string[];
}

function num(x: number): string {
  // 0.2 stays 0.2, 1 becomes 1, never 1e-7 (gen_img's --am regex takes digits, '.', '-' and ',')
  const s = String(Number(x.toFixed(6)));
  return /e/i.test(s) ? x.toFixed(6) : s;
}

/**
 * The prompt file: for each checkpoint, each prompt, each strength one line
 * `<prompt> <its options> --d <seed> --am <m0,m1,…>` (the checkpoint's multiplier at the strength,
 * the others 0). A prompt's own `--am` is dropped, its own `--d` is kept.
 */
export function buildTestPlan(prompts: readonly TestPrompt[], strengths: readonly number[], checkpoints: readonly string[], seed: number): { ok: true; plan: TestPlan } | { ok: false; error: string } {
  if (prompts.length === 0) return { ok: false, error: 'no prompts to test' };
  if (checkpoints.length === 0) return { ok: false, error: 'no LoRA file to test' };
  if (strengths.length === 0 || strengths.some((s) => typeof s !== 'number' || !Number.isFinite(s) || s < -10 || s > 10)) {
    return { ok: false, error: 'strengths must be numbers (e.g. 0.2 to 1.0)' };
  }
  if (!Number.isInteger(seed) || seed < 0) return { ok: false, error: 'the seed must be a whole number from 0' };
  const epochs = checkpoints.map((c) => {
    const parsed = parseCheckpointName(nodePath.basename(c.replace(/\\/g, '/')));
    return parsed?.kind === 'epoch' && parsed.epoch !== undefined ? parsed.epoch : null;
  });
  const seen = new Set<string>();
  for (const e of epochs) {
    const k = String(e);
    if (seen.has(k)) return { ok: false, error: e === null ? 'only one LoRA file without an epoch number (the final one) can be tested at a time' : `two LoRA files of epoch ${e}` };
    seen.add(k);
  }
  const lines: TestLine[] = [];
  const out: string[] = [];
  checkpoints.forEach((_, ci) => {
    prompts.forEach((p, pi) => {
      const options = p.options
        .split(/(?= --)/)
        .filter((o) => o.trim() !== '' && !/^\s*--am\s/i.test(o))
        .join('');
      const hasSeed = /(?:^|\s)--d\s+\d/i.test(options);
      for (const s of strengths) {
        const muls = checkpoints.map((__, k) => (k === ci ? num(s) : '0')).join(',');
        const text = `${p.text}${options}${hasSeed ? '' : ` --d ${seed}`} --am ${muls}`;
        out.push(text.replace(/[\r\n]+/g, ' '));
        lines.push({ seq: lines.length + 1, prompt: pi, strength: s, checkpoint: ci, text: p.text });
      }
    });
  });
  return {
    ok: true,
    plan: {
      prompts: prompts.map((p) => p.text),
      strengths: [...strengths],
      epochs,
      checkpoints: [...checkpoints],
      lines,
      promptFile: `# written by LoRA Workbench (Test the LoRA): line k makes im_k.png\n${out.join('\n')}\n`,
      warnings: [],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the command

export interface TestLoraEnvironment {
  sdScriptsDir: string;
  /** Python of sd-scripts (venv); default python3 (python on Windows) */
  python?: string;
  venvDir?: string;
  baseEnv?: Record<string, string | undefined>;
  platform?: Platform;
}

export interface TestLoraInputs {
  def: TestLoraTaskDefinition;
  facts: TrainingConfigFacts;
  /** absolute paths of the checkpoints, the base model and the output folder */
  checkpoints: string[];
  baseModel: string;
  outdir: string;
  promptFilePath: string;
}

/** `python sdxl_gen_img.py …` as an argument array (never a shell), in sd-scripts' folder. */
export function buildTestLoraCommand(inp: TestLoraInputs, env: TestLoraEnvironment): { ok: true; spec: SpawnSpec } | { ok: false; error: string } {
  try {
    const platform = env.platform ?? (process.platform === 'win32' ? 'win32' : process.platform === 'darwin' ? 'darwin' : 'linux');
    const p = platform === 'win32' ? nodePath.win32 : nodePath.posix;
    const { def, facts } = inp;
    if (!env.sdScriptsDir) return { ok: false, error: 'the sd-scripts folder is not set' };
    if (inp.checkpoints.length === 0) return { ok: false, error: 'no LoRA file to test' };
    for (const [k, v] of [['steps', def.steps], ['width', def.width], ['height', def.height], ['seed', def.seed]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < (k === 'seed' ? 0 : 1))) return { ok: false, error: `"${k}" must be a whole number` };
    }
    if (def.args !== undefined && (!Array.isArray(def.args) || def.args.some((a) => typeof a !== 'string'))) return { ok: false, error: '"args" must be a list of strings' };
    const module = def.networkModule ?? facts.networkModule ?? 'networks.lora';
    const sdDir = p.resolve(env.sdScriptsDir);
    const args: string[] = [
      p.join(sdDir, GEN_IMG_SCRIPT),
      '--ckpt', inp.baseModel,
      '--outdir', inp.outdir,
      '--from_file', inp.promptFilePath,
      '--sequential_file_name',
      '--images_per_prompt', '1',
      '--steps', String(def.steps ?? DEFAULT_TEST_STEPS),
      '--sampler', def.sampler ?? 'euler_a',
      '--W', String(def.width ?? 1024),
      '--H', String(def.height ?? 1024),
      '--seed', String(def.seed ?? DEFAULT_TEST_SEED),
    ];
    if (facts.mixedPrecision === 'bf16') args.push('--bf16');
    else if (facts.mixedPrecision === 'fp16') args.push('--fp16');
    if (facts.xformers) args.push('--xformers');
    else if (facts.sdpa) args.push('--sdpa');
    if (facts.vae) args.push('--vae', facts.vae);
    args.push('--network_module', ...inp.checkpoints.map(() => module));
    args.push('--network_weights', ...inp.checkpoints);
    args.push('--network_mul', ...inp.checkpoints.map(() => '1.0'));
    for (const a of def.args ?? []) args.push(a);
    const command = env.python ?? (platform === 'win32' ? 'python.exe' : 'python3');
    const envOut = processEnvironment(env.baseEnv ?? {}, def.env ?? {}, env.venvDir, platform);
    return { ok: true, spec: { command, args, cwd: sdDir, env: envOut } };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

// ---------------------------------------------------------------------------------------------
// images → lora_test.json

export interface LoraTestImage {
  prompt: number;
  strength: number;
  epoch: number | null;
  /** relative to the lora_test folder, with forward slashes */
  file: string;
}

export interface LoraTestJson {
  version: 1;
  prompts: string[];
  strengths: number[];
  epochs: (number | null)[];
  images: LoraTestImage[];
}

/** A file found in the output folder. */
export interface FoundImage {
  /** path relative to the lora_test folder */
  file: string;
  mtimeMs: number;
  /** the PNG's `prompt` text chunk, when it could be read */
  promptText?: string;
}

/** gen_img's sequential name: `im_000001.png`, with highres fix `im_1000001.png` (`im_0…` is the first stage). */
export function parseGenImgSequence(name: string): { seq: number; stage: 'final' | 'first' } | undefined {
  const m = /^im_(\d{6,7})\.png$/.exec(name);
  if (!m) return undefined;
  const d = m[1] as string;
  if (d.length === 6) return { seq: Number(d), stage: 'final' };
  return { seq: Number(d.slice(1)), stage: d[0] === '0' ? 'first' : 'final' };
}

export interface MappingResult {
  json: LoraTestJson;
  /** images whose PNG prompt differs from the expected one (not placed) */
  mismatched: string[];
}

/**
 * Places the images of a run: `im_k.png` shows line k of the plan. Files older than `since`
 * (an earlier run) and first-stage highres images are ignored; an image whose PNG prompt text
 * differs from line k's prompt is not placed and is reported.
 */
export function mapTestImages(plan: Pick<TestPlan, 'prompts' | 'strengths' | 'epochs' | 'lines'>, files: readonly FoundImage[], since = 0): MappingResult {
  const bySeq = new Map<number, FoundImage>();
  const mismatched: string[] = [];
  for (const f of files) {
    const base = f.file.split('/').pop() ?? f.file;
    const s = parseGenImgSequence(base);
    if (!s || s.stage !== 'final') continue;
    if (f.mtimeMs < since) continue;
    bySeq.set(s.seq, f);
  }
  const images: LoraTestImage[] = [];
  for (const line of plan.lines) {
    const f = bySeq.get(line.seq);
    if (!f) continue;
    if (f.promptText !== undefined && f.promptText.trim() !== line.text.trim()) {
      mismatched.push(f.file);
      continue;
    }
    images.push({ prompt: line.prompt, strength: line.strength, epoch: plan.epochs[line.checkpoint] ?? null, file: f.file });
  }
  return { json: { version: 1, prompts: [...plan.prompts], strengths: [...plan.strengths], epochs: [...plan.epochs], images }, mismatched };
}

// ---------------------------------------------------------------------------------------------
// PNG text chunks

function latin1(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/**
 * The tEXt and iTXt (uncompressed) chunks of a PNG, keyword → text. Reads only the chunk
 * headers before the first IDAT… and after it, stopping at IEND; never throws (a damaged file
 * gives what was readable).
 */
export function readPngTextChunks(buf: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (buf.length < 8 || sig.some((b, i) => buf[i] !== b)) return out;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 8;
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  while (pos + 8 <= buf.length) {
    const len = view.getUint32(pos);
    const type = latin1(buf.subarray(pos + 4, pos + 8));
    const start = pos + 8;
    const end = start + len;
    if (end + 4 > buf.length) break;
    const data = buf.subarray(start, end);
    if (type === 'tEXt') {
      const z = data.indexOf(0);
      if (z > 0) out[latin1(data.subarray(0, z))] = latin1(data.subarray(z + 1));
    } else if (type === 'iTXt') {
      const z = data.indexOf(0);
      if (z > 0 && data[z + 1] === 0) {
        // keyword \0 compressionFlag compressionMethod languageTag \0 translatedKeyword \0 text
        const lang = data.indexOf(0, z + 3);
        const tr = lang < 0 ? -1 : data.indexOf(0, lang + 1);
        if (tr >= 0) out[latin1(data.subarray(0, z))] = utf8.decode(data.subarray(tr + 1));
      }
    } else if (type === 'IEND') break;
    pos = end + 4;
  }
  return out;
}

/** A tiny valid PNG (1×1, grey) with tEXt/iTXt chunks, as gen_img's PIL writes them (for tests and the stand-in). */
export function pngWithText(texts: Record<string, string>): Uint8Array {
  const crcTable = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c >>> 0;
  }
  const crc = (b: Uint8Array): number => {
    let c = 0xffffffff;
    for (const x of b) c = (crcTable[(c ^ x) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array): Uint8Array => {
    const out = new Uint8Array(12 + data.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    v.setUint32(8 + data.length, crc(out.subarray(4, 8 + data.length)));
    return out;
  };
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])];
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 1);
  new DataView(ihdr.buffer).setUint32(4, 1);
  ihdr.set([8, 0, 0, 0, 0], 8);
  parts.push(chunk('IHDR', ihdr));
  for (const [k, v] of Object.entries(texts)) {
    // PIL writes tEXt when the text is Latin-1, iTXt otherwise
    const isLatin1 = [...v].every((ch) => (ch.codePointAt(0) ?? 0) < 256);
    if (isLatin1) parts.push(chunk('tEXt', Uint8Array.from([...k, '\0', ...v].map((ch) => ch.charCodeAt(0)))));
    else parts.push(chunk('iTXt', new Uint8Array([...Array.from(k, (ch) => ch.charCodeAt(0)), 0, 0, 0, 0, 0, ...enc.encode(v)])));
  }
  // zlib stream of one filtered scanline [0, 0x80], stored (no compression)
  const raw = Uint8Array.from([0, 0x80]);
  let a = 1;
  let b = 0;
  for (const x of raw) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  const idat = Uint8Array.from([0x78, 0x01, 0x01, raw.length, 0, ~raw.length & 0xff, 0xff, ...raw, (b >>> 8) & 0xff, b & 0xff, (a >>> 8) & 0xff, a & 0xff]);
  parts.push(chunk('IDAT', idat));
  parts.push(chunk('IEND', new Uint8Array(0)));
  const total = parts.reduce((n, x) => n + x.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}
