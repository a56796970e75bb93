/**
 * The training config (--config_file) as sd-scripts reads it: sections are flattened one level,
 * later keys win, values keep their TOML types.
 */
import { allEntries, type TomlDocument, type TomlEntry, type TomlValue } from './document';

export interface FlatOption {
  /** the option name sd-scripts sees */
  name: string;
  entry: TomlEntry;
  value: TomlValue;
  /** section the key is written in ('' for top level) */
  section: string;
  /** why the flattened value is a table or list sd-scripts did not expect, if so */
  nested?: 'dotted' | 'subtable' | 'arrayTable';
  /** offsets of the key as written (for an [a.b] table: the header key) */
  keyOffsets: readonly [number, number];
}

/** Flattens a training config like train_util.read_config_from_file. */
export function flattenTrainingConfig(doc: TomlDocument): FlatOption[] {
  const out: FlatOption[] = [];
  for (const table of doc.tables) {
    if (table.kind === 'root') {
      for (const e of table.entries) {
        if (e.keyPath.length === 1) out.push({ name: e.key, entry: e, value: e.value, section: '', keyOffsets: e.keyOffsets });
        else {
          const name = e.keyPath[1] ?? e.key;
          out.push({ name, entry: e, value: e.value, section: e.keyPath[0] ?? '', keyOffsets: e.keyOffsets, ...(e.keyPath.length > 2 ? { nested: 'dotted' as const } : {}) });
        }
      }
      continue;
    }
    const section = table.path[0] ?? '';
    if (table.kind === 'array' || table.path.length > 1) {
      // [[x]] → x is a list of tables; [a.b] → b is a table value: neither is an option value sd-scripts can use
      const name = table.kind === 'array' && table.path.length === 1 ? section : (table.path[1] ?? section);
      const first = table.entries[0];
      const ko = table.keyOffsets ?? [0, 0];
      if (first) out.push({ name, entry: first, value: { kind: 'table', entries: table.entries, offsets: table.offsets }, section, nested: table.kind === 'array' ? 'arrayTable' : 'subtable', keyOffsets: ko });
      else out.push({ name, entry: { keyPath: [name], key: name, keyOffsets: ko, offsets: table.headerOffsets ?? ko, value: { kind: 'table', entries: [], offsets: table.offsets }, table }, value: { kind: 'table', entries: [], offsets: table.offsets }, section, nested: table.kind === 'array' ? 'arrayTable' : 'subtable', keyOffsets: ko });
      continue;
    }
    for (const e of table.entries) {
      const name = e.keyPath[0] ?? e.key;
      out.push({ name, entry: e, value: e.value, section, keyOffsets: e.keyOffsets, ...(e.keyPath.length > 1 ? { nested: 'dotted' as const } : {}) });
    }
  }
  return out;
}

/** The effective value of every option: the last occurrence wins. */
export function effectiveOptions(flat: readonly FlatOption[]): Map<string, FlatOption> {
  const m = new Map<string, FlatOption>();
  for (const f of flat) m.set(f.name, f);
  return m;
}

/** Plain view of effective values for simple questions ("is cache_latents on?"). */
export class TrainingValues {
  constructor(readonly options: ReadonlyMap<string, FlatOption>) {}
  static of(doc: TomlDocument): TrainingValues {
    return new TrainingValues(effectiveOptions(flattenTrainingConfig(doc)));
  }
  get(name: string): TomlValue | undefined {
    return this.options.get(name)?.value;
  }
  /** true only for a TOML boolean true; a string such as "true" counts as set too (Python truthiness) */
  on(name: string): boolean {
    const v = this.get(name);
    if (!v) return false;
    switch (v.kind) {
      case 'boolean':
        return v.value;
      case 'string':
        return v.value !== '';
      case 'integer':
      case 'float':
        return v.value !== 0;
      case 'array':
        return v.items.length > 0;
      case 'table':
        return v.entries.length > 0;
      default:
        return true;
    }
  }
  num(name: string): number | undefined {
    const v = this.get(name);
    return v && (v.kind === 'integer' || v.kind === 'float') ? v.value : undefined;
  }
  str(name: string): string | undefined {
    const v = this.get(name);
    return v && v.kind === 'string' ? v.value : undefined;
  }
  has(name: string): boolean {
    return this.options.has(name);
  }
}

/** Entries of every table in order, for tools that want raw access. */
export { allEntries };

/** Parses a training-config resolution string like sd-scripts' prepare_dataset_args. */
export function parseResolutionString(s: string): [number, number] | undefined {
  const m = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(s);
  if (!m) return undefined;
  const w = Number(m[1]);
  const h = m[2] === undefined ? w : Number(m[2]);
  return [w, h];
}
