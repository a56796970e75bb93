/**
 * Tag completion from two sources: the dataset's own tags (by how many caption files carry them)
 * and an optional tag list (WD14's `selected_tags.csv` or an a1111 tag-complete CSV, by its post
 * count). The list can have 100,000 rows, so it is searched through sorted prefix indexes (names
 * and aliases; words inside a name) and answers are capped. Pure: no `vscode` here.
 */
import { looseTagKey } from './parse';
import { parseTagList, tagListKind, type ListedTag } from './vocabulary';

export type TagListKind = 'wd14' | 'a1111';

const WD14_CATEGORIES: Record<number, string> = { 0: 'general', 4: 'character', 9: 'rating' };
/** Danbooru's tag types, as a1111 tag-complete CSVs number them. */
const A1111_CATEGORIES: Record<number, string> = { 0: 'general', 1: 'artist', 3: 'copyright', 4: 'character', 5: 'meta' };

export function categoryName(category: number | null, kind: TagListKind): string | null {
  if (category === null) return null;
  return (kind === 'wd14' ? WD14_CATEGORIES : A1111_CATEGORIES)[category] ?? `category ${category}`;
}

export interface TagListEntry {
  name: string;
  key: string;
  category: number | null;
  categoryName: string | null;
  count: number | null;
  aliases: readonly string[];
}

/** A sorted array of keys, each pointing at an entry; searched by binary search on a prefix. */
class PrefixIndex {
  readonly keys: string[];
  readonly refs: Int32Array;

  constructor(pairs: Array<[string, number]>) {
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    this.keys = pairs.map((p) => p[0]);
    this.refs = Int32Array.from(pairs, (p) => p[1]);
  }

  /** Entry numbers whose key starts with `prefix` (unsorted, may repeat). */
  range(prefix: string): Int32Array {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] as string) < prefix) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < this.keys.length && (this.keys[end] as string).startsWith(prefix)) end++;
    return this.refs.subarray(lo, end);
  }
}

export interface ListHit {
  entry: TagListEntry;
  /** the alias that matched, when the name did not */
  alias?: string;
}

export class TagListIndex {
  /** most used first (list count, then the list's own order) */
  readonly entries: TagListEntry[];
  private readonly byKey = new Map<string, number>();
  private readonly primary: PrefixIndex;
  private readonly words: PrefixIndex;

  constructor(list: readonly ListedTag[], readonly kind: TagListKind) {
    const seen = new Set<string>();
    const rows: TagListEntry[] = [];
    for (const t of list) {
      const key = looseTagKey(t.name);
      if (key === '' || seen.has(key)) continue;
      seen.add(key);
      rows.push({ name: t.name, key, category: t.category, categoryName: categoryName(t.category, kind), count: t.count, aliases: t.aliases });
    }
    // a stable sort keeps the list's order for equal counts
    this.entries = rows
      .map((e, i) => ({ e, i }))
      .sort((a, b) => (b.e.count ?? -1) - (a.e.count ?? -1) || a.i - b.i)
      .map((x) => x.e);
    const primary: Array<[string, number]> = [];
    const words: Array<[string, number]> = [];
    this.entries.forEach((e, i) => {
      this.byKey.set(e.key, i);
      primary.push([e.key, i]);
      for (const a of e.aliases) {
        const k = looseTagKey(a);
        if (k !== '' && k !== e.key) primary.push([k, i]);
      }
      for (let at = e.key.indexOf(' '); at >= 0; at = e.key.indexOf(' ', at + 1)) words.push([e.key.slice(at + 1), i]);
    });
    this.primary = new PrefixIndex(primary);
    this.words = new PrefixIndex(words);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The listed tag with this name (any case, `_` or space); aliases are not names. */
  lookup(tag: string): TagListEntry | undefined {
    const i = this.byKey.get(looseTagKey(tag));
    return i === undefined ? undefined : this.entries[i];
  }

  /**
   * Listed tags matching `prefix`: names or aliases starting with it first, then names with a
   * word starting with it, each group most used first. `skip` leaves out keys (already offered or
   * already in the file). `capped` says more matched than `limit`.
   */
  search(prefix: string, limit: number, skip: (key: string) => boolean = () => false): { hits: ListHit[]; capped: boolean } {
    const p = looseTagKey(prefix.trim());
    const hits: ListHit[] = [];
    const taken = new Set<number>();
    let capped = false;
    const groups = p === '' ? [null] : [this.primary.range(p), this.words.range(p)];
    for (const g of groups) {
      const order = g === null ? null : Int32Array.from(g).sort();
      const n = order === null ? this.entries.length : order.length;
      for (let j = 0; j < n; j++) {
        const i = order === null ? j : (order[j] as number);
        if (taken.has(i)) continue;
        taken.add(i);
        const entry = this.entries[i] as TagListEntry;
        if (skip(entry.key)) continue;
        if (hits.length >= limit) {
          capped = true;
          break;
        }
        if (g !== null && g !== groups[1] && !entry.key.startsWith(p)) {
          const alias = entry.aliases.find((a) => looseTagKey(a).startsWith(p));
          hits.push(alias !== undefined ? { entry, alias } : { entry });
        } else hits.push({ entry });
      }
      if (capped) break;
    }
    return { hits, capped };
  }
}

/** Reads a tag list's text; `error` says what is wrong with it (nothing usable in it). */
export function loadTagList(text: string): { index: TagListIndex } | { error: string } {
  const kind = tagListKind(text);
  if (kind === 'wd14') {
    const header = text.replace(/^\ufeff/, '').split(/\r?\n/, 1)[0]?.trim().toLowerCase() ?? '';
    if (!header.startsWith('tag_id,name,category')) return { error: `its header is "${header.slice(0, 60)}", not "tag_id,name,category,count"` };
  }
  const list = parseTagList(text);
  if (list.length === 0) return { error: 'it has no tags' };
  return { index: new TagListIndex(list, kind) };
}

export type TagStyle = 'underscore' | 'space';

/**
 * How the dataset writes tags of several words: `long_hair` or `long hair` (by the number of
 * files, so one stray spelling does not decide); null when no tag has two words.
 */
export function datasetStyle(tags: ReadonlyArray<{ name: string; count: number }>): TagStyle | null {
  let under = 0;
  let space = 0;
  for (const t of tags) {
    if (/[\p{L}\p{N}]_[\p{L}\p{N}]/u.test(t.name)) under += t.count;
    else if (/[\p{L}\p{N}] [\p{L}\p{N}]/u.test(t.name)) space += t.count;
  }
  if (under === 0 && space === 0) return null;
  return space > under ? 'space' : 'underscore';
}

/**
 * A listed tag written in the dataset's style. Like sd-scripts' `--remove_underscore`, short
 * tags (3 characters or less: `^_^`, `o_o`) keep their underscores; only an underscore between
 * letters or digits becomes a space.
 */
export function inStyle(name: string, style: TagStyle | null): string {
  if (style === 'space') return name.length > 3 ? name.replace(/(?<=[\p{L}\p{N}])_(?=[\p{L}\p{N}])/gu, ' ') : name;
  if (style === 'underscore') return name.replace(/(?<=[\p{L}\p{N}]) (?=[\p{L}\p{N}])/gu, '_');
  return name;
}

export interface TagCandidate {
  /** the text to insert */
  tag: string;
  key: string;
  source: 'dataset' | 'list';
  /** caption files of the concept with this tag (0 for list-only tags) */
  datasetCount: number;
  listCount: number | null;
  categoryName: string | null;
  /** the alias typed, when it was an alias that matched */
  alias?: string;
}

export interface CandidateOptions {
  /** loose keys already in the file: not offered */
  present?: ReadonlySet<string>;
  /** most dataset tags / list tags offered */
  datasetLimit?: number;
  listLimit?: number;
}

/**
 * What completion offers for `prefix`: the dataset's tags first (starting with it, then with a
 * word starting with it; each most frequent first), then listed tags the dataset does not have,
 * in the dataset's `_`/space style, with their category and count. `incomplete`: an answer was
 * capped, so a longer prefix must ask again.
 */
export function tagCandidates(
  prefix: string,
  dataset: ReadonlyArray<{ name: string; key: string; count: number }>,
  list: TagListIndex | undefined,
  options: CandidateOptions = {},
): { items: TagCandidate[]; incomplete: boolean } {
  const present = options.present ?? new Set<string>();
  const datasetLimit = options.datasetLimit ?? 200;
  const listLimit = options.listLimit ?? 100;
  const p = looseTagKey(prefix.trim());
  const starts: TagCandidate[] = [];
  const inside: TagCandidate[] = [];
  const inDataset = new Set<string>();
  for (const t of dataset) {
    inDataset.add(t.key);
    if (present.has(t.key)) continue;
    const group = t.key.startsWith(p) ? starts : p !== '' && t.key.includes(` ${p}`) ? inside : null;
    if (!group) continue;
    const listed = list?.lookup(t.key);
    group.push({ tag: t.name, key: t.key, source: 'dataset', datasetCount: t.count, listCount: listed?.count ?? null, categoryName: listed?.categoryName ?? null });
  }
  const byCount = (a: TagCandidate, b: TagCandidate): number => b.datasetCount - a.datasetCount;
  const fromDataset = [...starts.sort(byCount), ...inside.sort(byCount)];
  let incomplete = fromDataset.length > datasetLimit;
  const items = fromDataset.slice(0, datasetLimit);
  if (list) {
    const style = datasetStyle(dataset);
    const { hits, capped } = list.search(prefix, listLimit, (key) => inDataset.has(key) || present.has(key));
    if (capped) incomplete = true;
    for (const h of hits) {
      items.push({
        tag: inStyle(h.entry.name, style),
        key: h.entry.key,
        source: 'list',
        datasetCount: 0,
        listCount: h.entry.count,
        categoryName: h.entry.categoryName,
        ...(h.alias !== undefined ? { alias: h.alias } : {}),
      });
    }
  }
  return { items, incomplete };
}
