/**
 * Reads a WD14 `selected_tags.csv` (SmilingWolf layout: `tag_id,name,category,count`) the way
 * sd-scripts' `tag_images_by_wd14_tagger.py` uses it: rating tags are the rows with category 9,
 * general tags category 0, character tags category 4, each list in file order. Model output `i`
 * is the rating `i` for `i < 4`, then general tag `i - 4`, then character tag `i - 4 - general`.
 *
 * Pure: no file access here (see `readSelectedTags` in modelFolder.ts for that).
 */

export const CATEGORY = { general: 0, character: 4, rating: 9 } as const;

export interface TagRow {
  tagId: string;
  name: string;
  category: number;
  /** Danbooru post count; NaN when the column is missing or not a number. */
  count: number;
  /** 1-based line in the file. */
  line: number;
}

export interface SelectedTags {
  ratings: string[];
  general: string[];
  character: string[];
  /** Every data row in file order (including rows of other categories). */
  rows: TagRow[];
  /** Number of model outputs this list explains: ratings + general + character. */
  outputCount: number;
  /** Things that do not stop tagging but that the user should know. */
  warnings: string[];
}

export type SelectedTagsResult = { ok: true; tags: SelectedTags } | { ok: false; error: string };

/**
 * Splits CSV text into records like Python's csv.reader (excel dialect): `"` quoting with `""`
 * escapes, fields may contain commas and line breaks when quoted. A blank line gives an empty
 * record ([]), as csv.reader does.
 */
export function parseCsv(text: string): { fields: string[]; line: number }[] {
  const records: { fields: string[]; line: number }[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let any = false;
    for (;;) {
      if (i >= n) {
        if (any || field !== '') fields.push(field);
        break;
      }
      const c = text[i] as string;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else {
          if (c === '\n') line++;
          field += c;
          i++;
        }
        continue;
      }
      if (c === '"' && field === '') {
        quoted = true;
        any = true;
        i++;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        any = true;
        i++;
      } else if (c === '\r' || c === '\n') {
        if (any || field !== '') fields.push(field);
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        break;
      } else {
        field += c;
        any = true;
        i++;
      }
    }
    records.push({ fields, line: startLine });
  }
  return records;
}

/** Parses selected_tags.csv text. Never throws: a file sd-scripts would reject gives `ok: false`. */
export function parseSelectedTags(input: string): SelectedTagsResult {
  if (typeof input !== 'string') return { ok: false, error: 'selected_tags.csv: no text' };
  const text = input.startsWith('\ufeff') ? input.slice(1) : input;
  const warnings: string[] = [];
  if (text !== input) warnings.push('selected_tags.csv starts with a byte-order mark: sd-scripts (utf-8, not utf-8-sig) would reject the header');
  const records = parseCsv(text);
  const header = records[0];
  if (!header || header.fields.length < 3 || header.fields[0] !== 'tag_id' || header.fields[1] !== 'name' || header.fields[2] !== 'category') {
    return {
      ok: false,
      error: `selected_tags.csv: unexpected csv format: the header must start with tag_id,name,category (found "${(header?.fields ?? []).join(',').slice(0, 80)}")`,
    };
  }
  const rows: TagRow[] = [];
  const ratings: string[] = [];
  const general: string[] = [];
  const character: string[] = [];
  const blank: number[] = [];
  const malformed: number[] = [];
  const other = new Map<string, number>();
  let order: 'ok' | 'mixed' = 'ok';
  let phase = 0; // 0 ratings, 1 general, 2 character
  for (const rec of records.slice(1)) {
    if (rec.fields.length === 0 || (rec.fields.length === 1 && rec.fields[0]?.trim() === '')) {
      blank.push(rec.line);
      continue;
    }
    const [tagId = '', name = '', cat = '', count] = rec.fields;
    if (rec.fields.length < 3) {
      malformed.push(rec.line);
      continue;
    }
    const category = /^\d+$/.test(cat) ? Number(cat) : NaN;
    rows.push({ tagId, name, category, count: count !== undefined && /^\d+$/.test(count.trim()) ? Number(count) : NaN, line: rec.line });
    // sd-scripts compares the category as a string: only exactly "9", "0", "4" count
    if (cat === '9') {
      ratings.push(name);
      if (phase > 0) order = 'mixed';
    } else if (cat === '0') {
      general.push(name);
      if (phase > 1) order = 'mixed';
      phase = Math.max(phase, 1);
    } else if (cat === '4') {
      character.push(name);
      phase = 2;
    } else {
      other.set(cat, (other.get(cat) ?? 0) + 1);
    }
  }
  if (blank.length) {
    warnings.push(
      `selected_tags.csv has ${blank.length} blank line${blank.length === 1 ? '' : 's'} (line ${blank.slice(0, 5).join(', ')}${blank.length > 5 ? ', …' : ''}): skipped`,
    );
  }
  if (malformed.length) {
    warnings.push(`selected_tags.csv: ${malformed.length} line${malformed.length === 1 ? '' : 's'} with fewer than 3 columns skipped (line ${malformed.slice(0, 5).join(', ')})`);
  }
  for (const [cat, n] of other) {
    warnings.push(`selected_tags.csv: ${n} row${n === 1 ? '' : 's'} of category "${cat}" are not used (only 9 rating, 0 general, 4 character are)`);
  }
  if (ratings.length !== 4) {
    warnings.push(`selected_tags.csv has ${ratings.length} rating rows; sd-scripts takes the first 4 model outputs as the ratings`);
  }
  if (order === 'mixed') {
    warnings.push('selected_tags.csv is not ordered ratings, then general, then character tags: sd-scripts (and LoRA Workbench) would give outputs the wrong names');
  }
  if (ratings.length + general.length + character.length === 0) {
    return { ok: false, error: 'selected_tags.csv has no tag rows' };
  }
  return {
    ok: true,
    tags: { ratings, general, character, rows, outputCount: 4 + general.length + character.length, warnings },
  };
}
