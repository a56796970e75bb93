/**
 * Which word is a concept's trigger. Pure: the caller passes what it knows.
 *
 * Precedence, most explicit first:
 *  1. a per-folder user setting (`perFolder`), taken as written;
 *  2. the subset's `class_tokens` from a dataset config (`datasetConfigClassTokens`);
 *  3. a global setting (`setting`), taken as written;
 *  4. the class tokens of a kohya folder name (`5_tk girl` → `tk girl`).
 * Class tokens (2 and 4) follow the DreamBooth convention "<identifier> <class>": with the default
 * rule 'firstWord' the trigger is the part before the first comma, then its first white-space
 * separated word (`tk girl` → `tk`, `ohwx` → `ohwx`, `tk, 1girl` → `tk`); with 'whole' it is the
 * whole first comma piece (`tk girl`). Regularisation folders have no trigger: their class tokens
 * are the class itself.
 */
import { pyStrip } from './readCaption';
import { parseConceptFolderName } from '../dataset/scan';

export type TriggerRule = 'firstWord' | 'whole';
export type TriggerSource = 'perFolder' | 'datasetConfig' | 'setting' | 'folderName' | 'none';

export interface TriggerInputs {
  /** the concept folder's base name, e.g. `5_tk girl` */
  folderName?: string;
  /** a user setting for this folder */
  perFolder?: string | null;
  /** `class_tokens` of the subset in a dataset config */
  datasetConfigClassTokens?: string | null;
  /** a global trigger-word setting */
  setting?: string | null;
  rule?: TriggerRule;
  /** a regularisation folder (`reg_data_dir` or `is_reg = true`) */
  isReg?: boolean;
}

export interface ResolvedTrigger {
  trigger: string | null;
  source: TriggerSource;
  /** the class tokens it was taken from, when it came from class tokens */
  classTokens?: string;
}

/** The trigger within class tokens, by rule. '' and white space give null. */
export function triggerFromClassTokens(classTokens: string, rule: TriggerRule = 'firstWord'): string | null {
  const firstPiece = pyStrip(classTokens.split(',')[0] ?? '');
  if (firstPiece === '') return null;
  if (rule === 'whole') return firstPiece;
  const word = firstPiece.split(/\s+/u)[0] ?? '';
  return word === '' ? null : word;
}

export function resolveTrigger(inputs: TriggerInputs): ResolvedTrigger {
  const clean = (s: string | null | undefined): string | null => {
    if (typeof s !== 'string') return null;
    const t = pyStrip(s);
    return t === '' ? null : t;
  };
  const perFolder = clean(inputs.perFolder);
  if (perFolder) return { trigger: perFolder, source: 'perFolder' };
  if (inputs.isReg === true) return { trigger: null, source: 'none' };
  const rule = inputs.rule ?? 'firstWord';
  const cfg = clean(inputs.datasetConfigClassTokens);
  if (cfg) {
    const t = triggerFromClassTokens(cfg, rule);
    if (t) return { trigger: t, source: 'datasetConfig', classTokens: cfg };
  }
  const setting = clean(inputs.setting);
  if (setting) return { trigger: setting, source: 'setting' };
  if (typeof inputs.folderName === 'string') {
    const c = parseConceptFolderName(inputs.folderName);
    if (c.ok) {
      const t = triggerFromClassTokens(c.classTokens, rule);
      if (t) return { trigger: t, source: 'folderName', classTokens: c.classTokens };
    }
  }
  return { trigger: null, source: 'none' };
}
