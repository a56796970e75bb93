/**
 * Inspects a WD14 model folder (SmilingWolf layout: `model.onnx` + `selected_tags.csv`, as
 * sd-scripts downloads it with `--onnx`) before anything is tagged: the model's input size and
 * layout, and that its output count matches the tag list.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseSelectedTags, type SelectedTags } from './selectedTags';
import { readOnnxInfo, type Dim, type OnnxValueInfo } from './onnxInfo';

export const MODEL_FILE = 'model.onnx';
export const TAGS_FILE = 'selected_tags.csv';

export interface ModelFolderInfo {
  dir: string;
  modelPath: string;
  tagsPath: string;
  input: OnnxValueInfo;
  output: OnnxValueInfo;
  /** Height = width of the model input (448 for every SmilingWolf v2/v3 model). */
  size: number;
  /** The model's fixed batch dimension, when it has one (sd-scripts then overrides --batch_size). */
  fixedBatch: number | undefined;
  tags: SelectedTags;
  /**
   * v3 repositories (wd-vit/swinv2/convnext-tagger-v3) name their input `input`; the v2 ones
   * (wd-v1-4-*-tagger-v2) `input_1:0`. Both take the same preprocessing.
   */
  version: 'v2' | 'v3' | 'unknown';
  warnings: string[];
}

export type ModelFolderResult = { ok: true; info: ModelFolderInfo } | { ok: false; error: string };

function isPositiveInt(d: Dim | undefined): d is number {
  return typeof d === 'number' && Number.isInteger(d) && d > 0;
}

/** Checks a model's interface against a tag list (pure; used by the folder check and the worker). */
export function checkModelInterface(
  input: OnnxValueInfo | undefined,
  output: OnnxValueInfo | undefined,
  tags: SelectedTags,
): { ok: true; size: number; fixedBatch: number | undefined; warnings: string[] } | { ok: false; error: string } {
  const warnings: string[] = [];
  if (!input || !output) return { ok: false, error: 'the model has no input or no output' };
  const s = input.shape;
  if (s.length !== 4) {
    return { ok: false, error: `the model input "${input.name}" has shape [${s.join(', ')}]; a WD14 model takes [batch, height, width, 3]` };
  }
  if (s[3] !== 3) {
    const nchw = s[1] === 3 ? ' (it looks channels-first: sd-scripts\' "other structure" models, with tag_mapping.json, are not supported)' : '';
    return { ok: false, error: `the model input "${input.name}" has shape [${s.join(', ')}], not [batch, height, width, 3]${nchw}` };
  }
  if (!isPositiveInt(s[1]) || !isPositiveInt(s[2]) || s[1] !== s[2]) {
    return { ok: false, error: `the model input "${input.name}" has shape [${s.join(', ')}]: height and width must be fixed and equal` };
  }
  if (input.elemType !== 0 && input.elemType !== 1) warnings.push(`the model input is not float32 (ONNX type ${input.elemType})`);
  const outCount = output.shape[output.shape.length - 1];
  if (isPositiveInt(outCount)) {
    if (outCount !== tags.outputCount) {
      return {
        ok: false,
        error:
          `the model has ${outCount} outputs but selected_tags.csv explains ${tags.outputCount} ` +
          `(4 ratings + ${tags.general.length} general + ${tags.character.length} character tags): the tag list does not belong to this model`,
      };
    }
  } else {
    warnings.push(`the model does not declare its output size; it is checked against selected_tags.csv on the first batch`);
  }
  return { ok: true, size: s[1], fixedBatch: isPositiveInt(s[0]) ? s[0] : undefined, warnings };
}

/** Inspects a model folder. Never throws; reads only the CSV and the model's header fields. */
export async function inspectModelFolder(dir: string): Promise<ModelFolderResult> {
  if (typeof dir !== 'string' || dir === '') return { ok: false, error: 'no model folder given' };
  const abs = path.resolve(dir);
  try {
    const st = await fsp.stat(abs);
    if (!st.isDirectory()) return { ok: false, error: `${abs} is not a folder (point at the folder holding ${MODEL_FILE} and ${TAGS_FILE})` };
  } catch {
    return { ok: false, error: `model folder ${abs} does not exist` };
  }
  const modelPath = path.join(abs, MODEL_FILE);
  const tagsPath = path.join(abs, TAGS_FILE);
  const missing: string[] = [];
  for (const f of [modelPath, tagsPath]) {
    try {
      if (!(await fsp.stat(f)).isFile()) missing.push(path.basename(f));
    } catch {
      missing.push(path.basename(f));
    }
  }
  if (missing.length) {
    let hint = '';
    try {
      const names = await fsp.readdir(abs);
      if (names.includes('saved_model.pb')) hint = ' (this is a TensorFlow download: get the ONNX one, as sd-scripts does with --onnx)';
      else if (names.includes('model_optimized.onnx')) hint = ' (model_optimized.onnx + tag_mapping.json is sd-scripts\' "other structure", which is not supported)';
    } catch {
      /* listed above */
    }
    return { ok: false, error: `${abs} has no ${missing.join(' and no ')}: a WD14 model folder holds ${MODEL_FILE} and ${TAGS_FILE}${hint}` };
  }
  let csv: string;
  try {
    csv = await fsp.readFile(tagsPath, 'utf8');
  } catch (e) {
    return { ok: false, error: `${tagsPath} cannot be read: ${(e as Error).message}` };
  }
  const parsed = parseSelectedTags(csv);
  if (!parsed.ok) return { ok: false, error: `${tagsPath}: ${parsed.error}` };
  const onnx = await readOnnxInfo(modelPath);
  if (!onnx.ok) return { ok: false, error: onnx.error };
  const input = onnx.info.inputs[0];
  const output = onnx.info.outputs[0];
  const check = checkModelInterface(input, output, parsed.tags);
  if (!check.ok) return { ok: false, error: `${modelPath}: ${check.error}` };
  const warnings = [...parsed.tags.warnings, ...check.warnings];
  if (onnx.info.inputs.length > 1) warnings.push(`the model has ${onnx.info.inputs.length} inputs; only the first ("${input?.name}") is fed`);
  const base = path.basename(abs).toLowerCase();
  const version: ModelFolderInfo['version'] =
    input?.name === 'input' || /v3/.test(base) ? 'v3' : input?.name === 'input_1:0' || /v2/.test(base) ? 'v2' : 'unknown';
  return {
    ok: true,
    info: {
      dir: abs,
      modelPath,
      tagsPath,
      input: input as OnnxValueInfo,
      output: output as OnnxValueInfo,
      size: check.size,
      fixedBatch: check.fixedBatch,
      tags: parsed.tags,
      version,
      warnings,
    },
  };
}
