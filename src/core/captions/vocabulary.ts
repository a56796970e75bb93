/**
 * Tag vocabulary for completion: the dataset's own tags with the number of files they are on,
 * plus an optional tag list (WD14's `selected_tags.csv`, or an a1111 tag-complete CSV).
 * Matching ignores case and treats `_` and space alike; aliases of a listed tag match too.
 */
import { looseTagKey } from './parse';

export interface ListedTag {
  name: string;
  category: number | null;
  count: number | null;
  aliases: string[];
}

/** RFC 4180-ish CSV: quoted fields with "" escapes, CRLF/LF/CR, a leading BOM. Never throws. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.startsWith('\ufeff') ? 1 : 0;
  let fieldStarted = false;
  const endRow = (): void => {
    if (fieldStarted || row.length > 0) {
      row.push(field);
      rows.push(row);
    }
    row = [];
    field = '';
    fieldStarted = false;
  };
  for (; i < text.length; i++) {
    if (!quoted && !fieldStarted && row.length === 0) {
      // fast path: a whole line without quotes is split at its commas (tag lists have 100k lines)
      let end = text.indexOf('\n', i);
      if (end < 0) end = text.length;
      let line = text.slice(i, end);
      const cr = line.indexOf('\r');
      if (cr >= 0) {
        end = i + cr + (text[i + cr + 1] === '\n' ? 1 : 0);
        line = line.slice(0, cr);
      }
      if (!line.includes('"')) {
        if (line !== '') rows.push(line.split(','));
        i = end;
        continue;
      }
    }
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      fieldStarted = true;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  endRow();
  return rows;
}

function intOrNull(s: string | undefined): number | null {
  if (s === undefined) return null;
  const t = s.trim();
  if (!/^[+-]?\d+$/.test(t)) return null;
  return Number.parseInt(t, 10);
}

/** WD14's `selected_tags.csv`: `tag_id,name,category,count` with a header; blank lines ignored. */
export function parseWd14SelectedTags(text: string): ListedTag[] {
  const out: ListedTag[] = [];
  const rows = parseCsv(text).filter((r) => r.some((c) => c.trim() !== ''));
  const header = rows[0]?.map((c) => c.trim().toLowerCase()) ?? [];
  let nameCol = header.indexOf('name');
  let catCol = header.indexOf('category');
  let countCol = header.indexOf('count');
  let start = 1;
  if (nameCol < 0) {
    // no header: the documented column order
    [nameCol, catCol, countCol, start] = [1, 2, 3, 0];
  }
  for (const r of rows.slice(start)) {
    const name = (r[nameCol] ?? '').trim();
    if (name === '') continue;
    out.push({ name, category: catCol >= 0 ? intOrNull(r[catCol]) : null, count: countCol >= 0 ? intOrNull(r[countCol]) : null, aliases: [] });
  }
  return out;
}

/** a1111 tag-complete CSV: `name,category,count,"alias1,alias2"`, no header. */
export function parseA1111TagCsv(text: string): ListedTag[] {
  const out: ListedTag[] = [];
  for (const r of parseCsv(text)) {
    const name = (r[0] ?? '').trim();
    if (name === '' || (name === 'name' && r[1]?.trim() === 'category')) continue;
    const aliases = (r[3] ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
    out.push({ name, category: intOrNull(r[1]), count: intOrNull(r[2]), aliases });
  }
  return out;
}

/** Which layout a tag list has: WD14 files start with `tag_id,name`, a1111 tag-complete CSVs have no header. */
export function tagListKind(text: string): 'wd14' | 'a1111' {
  const first = (parseCsv(text.slice(0, 2000))[0] ?? []).map((c) => c.trim().toLowerCase());
  return first[0] === 'tag_id' || first[1] === 'name' ? 'wd14' : 'a1111';
}

/** Picks the parser from the header: WD14 files start with `tag_id,name`. */
export function parseTagList(text: string): ListedTag[] {
  return tagListKind(text) === 'wd14' ? parseWd14SelectedTags(text) : parseA1111TagCsv(text);
}

export interface Completion {
  /** the text to insert, as the dataset writes it (or as listed) */
  tag: string;
  /** files of the dataset with this tag */
  datasetCount: number;
  /** count from the tag list */
  listCount: number | null;
  category: number | null;
  /** the alias that matched, when it was an alias */
  alias?: string;
}

interface Entry {
  display: string;
  loose: string;
  datasetCount: number;
  listCount: number | null;
  category: number | null;
  aliases: string[];
}

export class TagVocabulary {
  private readonly entries = new Map<string, Entry>();

  private entry(name: string): Entry {
    const loose = looseTagKey(name);
    let e = this.entries.get(loose);
    if (!e) {
      e = { display: name, loose, datasetCount: 0, listCount: null, category: null, aliases: [] };
      this.entries.set(loose, e);
    }
    return e;
  }

  /** Counts the tags of one file (each tag once per file). */
  addFileTags(tags: Iterable<string>): void {
    const seen = new Set<string>();
    for (const t of tags) {
      const loose = looseTagKey(t);
      if (loose === '' || seen.has(loose)) continue;
      seen.add(loose);
      const e = this.entry(t);
      // the dataset's own spelling wins over the list's
      if (e.datasetCount === 0) e.display = t;
      e.datasetCount++;
    }
  }

  removeFileTags(tags: Iterable<string>): void {
    const seen = new Set<string>();
    for (const t of tags) {
      const loose = looseTagKey(t);
      if (seen.has(loose)) continue;
      seen.add(loose);
      const e = this.entries.get(loose);
      if (!e) continue;
      e.datasetCount = Math.max(0, e.datasetCount - 1);
      if (e.datasetCount === 0 && e.listCount === null && e.aliases.length === 0) this.entries.delete(loose);
    }
  }

  addList(list: readonly ListedTag[]): void {
    for (const t of list) {
      const e = this.entry(t.name);
      e.listCount = t.count;
      e.category = t.category;
      for (const a of t.aliases) if (!e.aliases.includes(a)) e.aliases.push(a);
    }
  }

  count(tag: string): number {
    return this.entries.get(looseTagKey(tag))?.datasetCount ?? 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Tags starting with `prefix` (or with a word starting with it), dataset tags first by count,
   * then listed tags by their list count.
   */
  complete(prefix: string, limit = 50): Completion[] {
    const p = looseTagKey(prefix.trim());
    const hits: Array<{ e: Entry; rank: number; alias?: string }> = [];
    for (const e of this.entries.values()) {
      let rank = -1;
      let alias: string | undefined;
      if (e.loose.startsWith(p)) rank = 0;
      else if (p !== '' && e.loose.includes(` ${p}`)) rank = 1;
      else if (p !== '') {
        const a = e.aliases.find((x) => looseTagKey(x).startsWith(p));
        if (a !== undefined) {
          rank = 2;
          alias = a;
        }
      }
      if (rank >= 0) hits.push(alias !== undefined ? { e, rank, alias } : { e, rank });
    }
    hits.sort(
      (a, b) =>
        a.rank - b.rank ||
        b.e.datasetCount - a.e.datasetCount ||
        (b.e.listCount ?? -1) - (a.e.listCount ?? -1) ||
        (a.e.loose < b.e.loose ? -1 : a.e.loose > b.e.loose ? 1 : 0),
    );
    return hits.slice(0, limit).map(({ e, alias }) => ({
      tag: e.display,
      datasetCount: e.datasetCount,
      listCount: e.listCount,
      category: e.category,
      ...(alias !== undefined ? { alias } : {}),
    }));
  }
}
