/**
 * Tag completion from two sources: the dataset's own tags (by how many caption files carry them)
 * and an optional tag list (WD14's `selected_tags.csv` or an a1111 tag-complete CSV, by its post
 * count). The list can have 100,000 rows, so it is searched through prefix buckets kept in rank
 * order (names and aliases; words inside a name) and answers are capped. Pure: no `vscode` here.
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

/**
 * Keys bucketed by their first 1, 2 and 3 characters. Keys are added in rank order (most used
 * first), so a bucket is already ranked: a search walks it and stops at the limit, no sorting.
 */
class PrefixBuckets {
  private readonly buckets = new Map<string, { keys: string[]; refs: number[] }>();

  add(key: string, ref: number): void {
    for (let n = 1; n <= 3 && n <= key.length; n++) {
      const head = key.slice(0, n);
      let b = this.buckets.get(head);
      if (!b) {
        b = { keys: [], refs: [] };
        this.buckets.set(head, b);
      }
      b.keys.push(key);
      b.refs.push(ref);
    }
  }

  /** Entry numbers whose key starts with `prefix` (not empty), in rank order (may repeat). */
  *matches(prefix: string): Generator<number> {
    const b = this.buckets.get(prefix.slice(0, 3));
    if (!b) return;
    const check = prefix.length > 3;
    for (let i = 0; i < b.keys.length; i++) if (!check || (b.keys[i] as string).startsWith(prefix)) yield b.refs[i] as number;
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
  /** names and aliases */
  private readonly primary = new PrefixBuckets();
  /** the words after the first of each name */
  private readonly words = new PrefixBuckets();

  constructor(list: readonly ListedTag[], readonly kind: TagListKind) {
    const seen = new Set<string>();
    const rows: TagListEntry[] = [];
    for (const t of list) {
      const key = looseTagKey(t.name);
      if (key === '' || seen.has(key)) continue;
      seen.add(key);
      rows.push({ name: t.name, key, category: t.category, categoryName: categoryName(t.category, kind), count: t.count, aliases: t.aliases });
    }
    // most used first, the list's order for equal counts: one number per row, (max - count) · n + row,
    // sorted natively (a comparator function is the slow part at 100k rows)
    const n = rows.length;
    let max = 0;
    for (const r of rows) if ((r.count ?? -1) > max) max = r.count ?? -1;
    const order = new Float64Array(n);
    rows.forEach((r, i) => {
      order[i] = (max - Math.max(r.count ?? -1, -1) + 1) * n + i;
    });
    order.sort();
    this.entries = Array.from(order, (k) => rows[k - Math.floor(k / n) * n] as TagListEntry);
    this.entries.forEach((e, i) => {
      this.byKey.set(e.key, i);
      this.primary.add(e.key, i);
      for (const a of e.aliases) {
        const k = looseTagKey(a);
        if (k !== '' && k !== e.key) this.primary.add(k, i);
      }
      for (let at = e.key.indexOf(' '); at >= 0; at = e.key.indexOf(' ', at + 1)) this.words.add(e.key.slice(at + 1), i);
    });
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
    const all = function* (n: number): Generator<number> {
      for (let i = 0; i < n; i++) yield i;
    };
    const groups: Array<{ refs: Iterable<number>; byName: boolean }> =
      p === '' ? [{ refs: all(this.entries.length), byName: false }] : [{ refs: this.primary.matches(p), byName: true }, { refs: this.words.matches(p), byName: false }];
    for (const g of groups) {
      for (const i of g.refs) {
        if (taken.has(i)) continue;
        taken.add(i);
        const entry = this.entries[i] as TagListEntry;
        if (skip(entry.key)) continue;
        if (hits.length >= limit) {
          capped = true;
          break;
        }
        // a name/alias match where the name does not start with the prefix: an alias matched
        const alias = g.byName && !entry.key.startsWith(p) ? entry.aliases.find((a) => looseTagKey(a).startsWith(p)) : undefined;
        hits.push(alias !== undefined ? { entry, alias } : { entry });
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
