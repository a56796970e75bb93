/**
 * The Tags view's data, answered from the caption index (no file is read): every tag of a concept
 * (or of all concepts) with the number of caption files it is on and how often it comes together
 * with the concept's trigger word, filtered and sorted; and the files carrying a tag, as a batch
 * target.
 *
 * Pure: no I/O, no `vscode`.
 */
import { looseTagKey, splitWeight } from './parse';
import { pyStrip } from './readCaption';
import type { CaptionIndex } from './rules';

export interface TagRow {
  key: string;
  /** the spelling first seen */
  name: string;
  /** caption files with the tag */
  count: number;
  /** of those, files that also carry their concept's trigger word; null: no concept has a trigger */
  withTrigger: number | null;
  /** true for the trigger word itself */
  isTrigger: boolean;
}

export type TagSort = 'count' | 'name';

export const triggerKey = (trigger: string | null): string => (trigger ? looseTagKey(splitWeight(pyStrip(trigger)).name) : '');

/** The tags of one concept with counts and co-occurrence with its trigger. */
export function conceptTagRows(index: CaptionIndex, concept: string): TagRow[] {
  const info = index.conceptInfo(concept);
  if (!info) return [];
  const trig = triggerKey(info.trigger);
  const together = new Map<string, number>();
  if (trig) {
    for (const f of index.conceptFiles(concept)) {
      if (!f.tagKeys.includes(trig)) continue;
      for (const k of f.tagKeys) together.set(k, (together.get(k) ?? 0) + 1);
    }
  }
  return index.conceptTags(concept).map((t) => ({
    key: t.key,
    name: t.name,
    count: t.count,
    withTrigger: trig ? (together.get(t.key) ?? 0) : null,
    isTrigger: trig !== '' && t.key === trig,
  }));
}

/** The tags of every concept together; co-occurrence counts each file against its own concept's trigger. */
export function allTagRows(index: CaptionIndex): TagRow[] {
  const merged = new Map<string, TagRow>();
  for (const id of index.conceptIds()) {
    for (const r of conceptTagRows(index, id)) {
      const m = merged.get(r.key);
      if (!m) merged.set(r.key, { ...r });
      else {
        m.count += r.count;
        m.withTrigger = m.withTrigger === null && r.withTrigger === null ? null : (m.withTrigger ?? 0) + (r.withTrigger ?? 0);
        m.isTrigger ||= r.isTrigger;
      }
    }
  }
  return sortTagRows([...merged.values()], 'count');
}

/** Rows whose tag contains the filter (case, `_` and space ignored); every row for an empty filter. */
export function filterTagRows(rows: readonly TagRow[], filter: string): TagRow[] {
  const f = looseTagKey(filter.trim());
  return f === '' ? [...rows] : rows.filter((r) => r.key.includes(f));
}

export function sortTagRows(rows: TagRow[], by: TagSort): TagRow[] {
  const byName = (a: TagRow, b: TagRow): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return rows.sort(by === 'name' ? byName : (a, b) => b.count - a.count || byName(a, b));
}

/** "87% with trigger" (rounded down, so 100% means every one) */
export function cooccurrenceText(r: TagRow): string {
  if (r.withTrigger === null || r.isTrigger || r.count === 0) return '';
  return `${Math.floor((100 * r.withTrigger) / r.count)}% with trigger`;
}

/** The caption files carrying the tag, in one concept or in all. */
export function filesWithTag(index: CaptionIndex, tag: string, concept?: string): string[] {
  const key = looseTagKey(splitWeight(pyStrip(tag)).name);
  const out: string[] = [];
  for (const id of concept !== undefined ? [concept] : index.conceptIds()) {
    for (const f of index.conceptFiles(id)) if (f.tagKeys.includes(key)) out.push(f.file);
  }
  return out;
}
