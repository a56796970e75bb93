/**
 * From WD14 model scores to a tag file, with sd-scripts' options (`tag_images_by_wd14_tagger.py`,
 * SmilingWolf format) and their names. Pure: the caller reads the existing file for
 * `append_tags` and writes the result.
 */
import type { SelectedTags } from './selectedTags';

export interface TaggerOptions {
  /** --thresh (default 0.35): the default of both thresholds below. */
  thresh?: number;
  /** --general_threshold (default: thresh). A tag is kept when its score is >= the threshold. */
  general_threshold?: number;
  /** --character_threshold (default: thresh). Above 1 disables character tags. */
  character_threshold?: number;
  /** --remove_underscore: `_` → space in tags longer than 3 characters (so `^_^` stays). */
  remove_underscore?: boolean;
  /** --character_tag_expand: `name_(series)` → `name` + separator + `series`. */
  character_tag_expand?: boolean;
  /** --undesired_tags: split on the stripped separator, items stripped. */
  undesired_tags?: string;
  /** --character_tags_first: each character tag is inserted at the front (the last found ends up first). */
  character_tags_first?: boolean;
  /** --always_first_tags: split on the stripped separator, items NOT stripped; the last listed ends up first. */
  always_first_tags?: string;
  /**
   * --tag_replacement "src,dst;src2,dst2" (`\,` and `\;` escape). Applied as sd-scripts intends
   * it (and did before commit c6bc632e): the first general, else character, else rating tag
   * equal to `src` is renamed `dst`. At sd-scripts 48d368fa the option has no effect for
   * SmilingWolf models (a regression); LoRA Workbench applies the intended behaviour.
   */
  tag_replacement?: string;
  /** --use_rating_tags: the rating (argmax of the first 4 outputs) goes first. */
  use_rating_tags?: boolean;
  /** --use_rating_tags_as_last_tag: the rating goes last. */
  use_rating_tags_as_last_tag?: boolean;
  /** --append_tags: keep the existing file's tags first, add the new ones not already there. */
  append_tags?: boolean;
  /** --caption_separator (default ", "). */
  caption_separator?: string;
  /** --caption_extension (default ".txt"). */
  caption_extension?: string;
}

export const DEFAULT_THRESH = 0.35;
export const DEFAULT_SEPARATOR = ', ';
export const DEFAULT_TAG_EXTENSION = '.txt';

/** The tag lists after the list-level options (expand, underscores, replacement). */
export interface PreparedTags {
  ratings: string[];
  general: string[];
  character: string[];
  undesired: Set<string>;
  alwaysFirst: string[];
  generalThreshold: number;
  characterThreshold: number;
  separator: string;
  useRating: 'first' | 'last' | 'none';
  characterFirst: boolean;
  /** Problems with the options (a malformed replacement is reported and skipped, not fatal). */
  warnings: string[];
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** Parses --tag_replacement; entries that are not exactly `source,target` are reported. */
export function parseTagReplacement(spec: string): { pairs: [string, string][]; errors: string[] } {
  const pairs: [string, string][] = [];
  const errors: string[] = [];
  const escaped = spec.replace(/\\,/g, '@@@@').replace(/\\;/g, '####');
  for (const item of escaped.split(';')) {
    const parts = item.split(',');
    if (parts.length !== 2) {
      errors.push(`tag replacement must be in the format of "source,target": "${item.replace(/@@@@/g, '\\,').replace(/####/g, '\\;')}"`);
      continue;
    }
    const [s, t] = parts.map((p) => p.replace(/@@@@/g, ',').replace(/####/g, ';')) as [string, string];
    pairs.push([s, t]);
  }
  return { pairs, errors };
}

/** Applies the options that change the tag lists, in sd-scripts' order. */
export function prepareTags(tags: Pick<SelectedTags, 'ratings' | 'general' | 'character'>, options: TaggerOptions = {}): PreparedTags {
  const o = options ?? {};
  const warnings: string[] = [];
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : []);
  const separator = typeof o.caption_separator === 'string' ? o.caption_separator : DEFAULT_SEPARATOR;
  const strippedSep = separator.trim();
  const split = (s: string): string[] => (strippedSep === '' ? [s] : s.split(strippedSep));
  let ratings = list(tags?.ratings);
  let general = list(tags?.general);
  let character = list(tags?.character);
  if (o.character_tag_expand) {
    character = character.map((tag) => {
      if (!tag.endsWith(')')) return tag;
      const parts = tag.split('(');
      let name = parts.slice(0, -1).join('(');
      if (name.endsWith('_')) name = name.slice(0, -1);
      const series = (parts[parts.length - 1] ?? '').replace(/\)/g, '');
      return name + separator + series;
    });
  }
  if (o.remove_underscore) {
    const ru = (t: string): string => ([...t].length > 3 ? t.replace(/_/g, ' ') : t);
    ratings = ratings.map(ru);
    general = general.map(ru);
    character = character.map(ru);
  }
  if (typeof o.tag_replacement === 'string' && o.tag_replacement !== '') {
    const { pairs, errors } = parseTagReplacement(o.tag_replacement);
    warnings.push(...errors);
    for (const [src, dst] of pairs) {
      let i = general.indexOf(src);
      if (i >= 0) general[i] = dst;
      else if ((i = character.indexOf(src)) >= 0) character[i] = dst;
      else if ((i = ratings.indexOf(src)) >= 0) ratings[i] = dst;
    }
  }
  const undesired = new Set(
    typeof o.undesired_tags === 'string'
      ? split(o.undesired_tags)
          .map((t) => t.trim())
          .filter((t) => t !== '')
      : [],
  );
  const alwaysFirst = typeof o.always_first_tags === 'string' ? split(o.always_first_tags).filter((t) => t.trim() !== '') : [];
  const thresh = num(o.thresh, DEFAULT_THRESH);
  return {
    ratings,
    general,
    character,
    undesired,
    alwaysFirst,
    generalThreshold: num(o.general_threshold, thresh),
    characterThreshold: num(o.character_threshold, thresh),
    separator,
    useRating: o.use_rating_tags ? 'first' : o.use_rating_tags_as_last_tag ? 'last' : 'none',
    characterFirst: !!o.character_tags_first,
    warnings,
  };
}

export interface ScoredTag {
  tag: string;
  score: number;
  kind: 'rating' | 'general' | 'character';
}

export interface ImageTags {
  /** The tags in output order (what goes into the file, before append_tags). */
  tags: string[];
  /** Every kept tag with its score (general and character tags over their threshold, the rating if used). */
  scored: ScoredTag[];
  /** The rating with the highest score, whether or not it is written. */
  rating: ScoredTag | undefined;
}

/** One image's scores (`4 + general + character` values) → its tags, like sd-scripts. */
export function tagsFromScores(scores: ArrayLike<number>, p: PreparedTags): ImageTags {
  const combined: string[] = [];
  const scored: ScoredTag[] = [];
  if (!scores || typeof scores.length !== 'number') return { tags: combined, scored, rating: undefined };
  const ng = p.general.length;
  const nc = p.character.length;
  const n = Math.min(scores.length - 4, ng + nc);
  for (let i = 0; i < n; i++) {
    const s = scores[4 + i] as number;
    if (i < ng) {
      if (s >= p.generalThreshold) {
        const tag = p.general[i] as string;
        if (!p.undesired.has(tag)) {
          combined.push(tag);
          scored.push({ tag, score: s, kind: 'general' });
        }
      }
    } else if (s >= p.characterThreshold) {
      const tag = p.character[i - ng] as string;
      if (!p.undesired.has(tag)) {
        if (p.characterFirst) combined.unshift(tag);
        else combined.push(tag);
        scored.push({ tag, score: s, kind: 'character' });
      }
    }
  }
  let rating: ScoredTag | undefined;
  const nr = Math.min(4, scores.length, p.ratings.length);
  for (let i = 0; i < nr; i++) {
    // numpy argmax: the first maximum
    const s = scores[i] as number;
    if (!rating || s > rating.score) rating = { tag: p.ratings[i] as string, score: s, kind: 'rating' };
  }
  if (rating && p.useRating !== 'none' && !p.undesired.has(rating.tag)) {
    if (p.useRating === 'first') combined.unshift(rating.tag);
    else combined.push(rating.tag);
    scored.push(rating);
  }
  for (const tag of p.alwaysFirst) {
    const i = combined.indexOf(tag);
    if (i >= 0) {
      combined.splice(i, 1);
      combined.unshift(tag);
    }
  }
  return { tags: combined, scored, rating };
}

/**
 * The text sd-scripts writes: `separator.join(tags) + "\n"`; with append_tags, the existing
 * file's tags (content stripped of newlines, split on the stripped separator, items stripped,
 * empty ones dropped) come first, then the new tags not already among them.
 */
export function captionText(tags: readonly string[], existing: string | undefined, options: TaggerOptions = {}): string {
  if (!Array.isArray(tags)) tags = [];
  options = options ?? {};
  const separator = typeof options.caption_separator === 'string' ? options.caption_separator : DEFAULT_SEPARATOR;
  if (options.append_tags && existing !== undefined) {
    const stripped = separator.trim();
    const content = existing.replace(/^\n+|\n+$/g, '');
    const old = (stripped === '' ? [content] : content.split(stripped)).map((t) => t.trim()).filter((t) => t !== '');
    const added = tags.filter((t) => !old.includes(t));
    return [...old, ...added].join(separator) + '\n';
  }
  return tags.join(separator) + '\n';
}

/** `splitext(image)[0] + caption_extension` (a missing leading dot is NOT added by the tagger). */
export function captionPathFor(imagePath: string, captionExtension: string = DEFAULT_TAG_EXTENSION): string {
  if (typeof imagePath !== 'string') return '';
  const slash = Math.max(imagePath.lastIndexOf('/'), imagePath.lastIndexOf('\\'));
  const base = imagePath.slice(slash + 1);
  // Python's splitext: leading dots of the file name are not an extension
  const dot = base.lastIndexOf('.');
  const stemEnd = dot > 0 && /[^.]/.test(base.slice(0, dot)) ? slash + 1 + dot : imagePath.length;
  return imagePath.slice(0, stemEnd) + captionExtension;
}

/** Counts tags over many images, like --frequency_tags. */
export function tagFrequency(results: Iterable<readonly string[]>): Map<string, number> {
  const freq = new Map<string, number>();
  for (const tags of results) for (const t of tags) freq.set(t, (freq.get(t) ?? 0) + 1);
  return freq;
}
