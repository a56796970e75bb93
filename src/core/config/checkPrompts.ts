/** Checks of sample-prompt files (--sample_prompts) in the .toml and .txt formats sd-scripts reads. */
import { type TomlDocument, type TomlEntry, kindName } from './document';
import { type DiagnosticSink } from './diag';
import { PROMPT_KEY_MAP, PROMPT_KEYS, PROMPT_TXT_OPTIONS, getOption } from './options';
import { didYouMean, tomlString, type LineIndex } from './text';

export function checkPromptToml(doc: TomlDocument, sink: DiagnosticSink): void {
  const shared = doc.tables.find((t) => t.kind === 'standard' && t.path.length === 1 && t.path[0] === 'prompt');
  const subsets = doc.tables.filter((t) => t.kind === 'array' && t.path.length === 2 && t.path[0] === 'prompt' && t.path[1] === 'subset');
  for (const t of doc.tables) {
    if (t === shared || subsets.includes(t)) continue;
    if (t.kind === 'root') {
      for (const e of t.entries) sink.add('prompt-structure', 'warning', e.keyOffsets, `sd-scripts reads only [prompt] and [[prompt.subset]]; "${e.key}" at the top is ignored.`);
      continue;
    }
    sink.add('prompt-structure', 'warning', t.keyOffsets ?? [0, 0], `sd-scripts reads only [prompt] and [[prompt.subset]]; [${t.path.join('.')}] is ignored.`);
  }
  if (!doc.parsed) return;
  if (!shared && subsets.length === 0) {
    sink.add('prompt-structure', 'error', [0, Math.min(doc.text.length, doc.lines.lineEnd(0))], 'A sample-prompt TOML needs a [prompt] table and one [[prompt.subset]] per image; sd-scripts stops without them.');
    return;
  }
  if (!shared) sink.add('prompt-structure', 'error', subsets[0]?.keyOffsets ?? [0, 0], 'sd-scripts needs a [prompt] table (it may be empty) before the [[prompt.subset]] tables; without it sampling stops with a KeyError.', [{ title: 'Add [prompt]', edits: [{ offsets: [subsets[0]?.offsets[0] ?? 0, subsets[0]?.offsets[0] ?? 0], newText: '[prompt]\n' }], preferred: true }]);
  if (shared && subsets.length === 0) sink.add('prompt-structure', 'error', shared.keyOffsets ?? [0, 0], 'No [[prompt.subset]]: sd-scripts makes one sample per subset and stops without any.');
  const sharedKeys = new Map<string, TomlEntry>();
  for (const e of shared?.entries ?? []) {
    checkPromptEntry(e, sink, doc.text);
    sharedKeys.set(e.key, e);
  }
  for (const s of subsets) {
    for (const e of s.entries) {
      checkPromptEntry(e, sink, doc.text);
      const dup = sharedKeys.get(e.key);
      if (dup) {
        const line = doc.lines.position(dup.keyOffsets[0]).line + 1;
        sink.add('prompt-duplicate-key', 'error', e.keyOffsets, `"${e.key}" is already set in [prompt] (line ${line}); a subset cannot override it: sd-scripts stops with "got multiple values for keyword argument". Move it out of [prompt] into every subset.`);
      }
    }
    if (!s.entries.some((e) => e.key === 'prompt') && !sharedKeys.has('prompt')) {
      sink.add('prompt-structure', 'warning', s.keyOffsets ?? [0, 0], 'This subset has no prompt.');
    }
  }
}

function checkPromptEntry(e: TomlEntry, sink: DiagnosticSink, text: string): void {
  const k = PROMPT_KEY_MAP.get(e.key);
  if (!k) {
    const near = didYouMean(e.key, PROMPT_KEYS.map((p) => p.name)) ?? ({ negative: 'negative_prompt', steps: 'sample_steps', cfg: 'scale', cfg_scale: 'scale', sampler: 'sample_sampler' } as Record<string, string>)[e.key];
    sink.add('prompt-unknown-key', 'warning', e.keyOffsets, `sd-scripts ignores the sample-prompt key "${e.key}".` + (near ? ` Did you mean "${near}"?` : ''), near ? [{ title: `Rename to ${near}`, edits: [{ offsets: e.keyOffsets, newText: near }], preferred: true }] : undefined);
    return;
  }
  const v = e.value;
  const ok = k.type === 'str' ? v.kind === 'string' : k.type === 'int' ? v.kind === 'integer' : v.kind === 'integer' || v.kind === 'float';
  if (!ok) {
    const raw = text.slice(v.offsets[0], v.offsets[1]);
    let fix: string | undefined;
    if (k.type === 'str' && (v.kind === 'integer' || v.kind === 'float')) fix = tomlString(raw);
    if (k.type !== 'str' && v.kind === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v.value) && (k.type !== 'int' || /^\s*\d+\s*$/.test(v.value))) fix = v.value.trim();
    if (k.type === 'int' && v.kind === 'float' && Number.isInteger(v.value)) fix = String(v.value);
    sink.add('wrong-type', 'error', v.offsets, `"${k.name}" must be ${k.type === 'str' ? 'a string' : k.type === 'int' ? 'an integer' : 'a number'}, not ${kindName(v)}.`, fix ? [{ title: `Write ${fix}`, edits: [{ offsets: v.offsets, newText: fix }], preferred: true }] : undefined);
    return;
  }
  if ((k.name === 'width' || k.name === 'height') && v.kind === 'integer' && v.value % 8 !== 0) {
    sink.add('dataset-value', 'info', v.offsets, `sd-scripts rounds ${k.name} down to a multiple of 8: ${Math.max(64, v.value - (v.value % 8))}.`);
  }
  if (k.name === 'sample_steps' && v.kind === 'integer' && (v.value < 1 || v.value > 1000)) sink.add('dataset-value', 'warning', v.offsets, 'sd-scripts clamps sample_steps to 1–1000.');
  if (k.name === 'sample_sampler' && v.kind === 'string') {
    const choices = (getOption('sample_sampler')?.choices ?? []).map(String);
    if (!choices.includes(v.value.toLowerCase())) sink.add('invalid-choice', 'warning', v.offsets, `Unknown sampler "${v.value}": sd-scripts falls back to DDIM. Use one of ${choices.join(', ')}.`);
  }
}

/** One parsed line of a .txt prompt file. */
export interface PromptLine {
  line: number;
  prompt: string;
  options: { flag: string; value: string; key?: string; offsets: readonly [number, number] }[];
}

/** Checks a .txt prompt file: `prompt --n negative --w 1024 --h 1024 --d 42 --l 7 --s 28`. */
export function checkPromptTxt(lines: LineIndex, sink: DiagnosticSink): PromptLine[] {
  const out: PromptLine[] = [];
  for (let l = 0; l < lines.lineCount; l++) {
    const start = lines.lineStart(l);
    const raw = lines.lineText(l);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    // sd-scripts splits the stripped line on " --"
    const lead = raw.length - raw.trimStart().length;
    const pieces = trimmed.split(' --');
    const pl: PromptLine = { line: l, prompt: (pieces[0] ?? '').trim(), options: [] };
    let pos = start + lead + (pieces[0]?.length ?? 0);
    if (pl.prompt === '' || pl.prompt.startsWith('--')) sink.add('prompt-option', 'warning', [start + lead, start + lead + Math.max(1, (pieces[0] ?? '').length)], 'This line has no prompt before its options.');
    for (const piece of pieces.slice(1)) {
      const pieceStart = pos + 3;
      pos = pieceStart + piece.length;
      const offsets: readonly [number, number] = [pieceStart - 2, pos];
      const match = PROMPT_TXT_OPTIONS.find((o) => o.pattern.test(piece));
      const flag = /^\S*/.exec(piece)?.[0] ?? '';
      if (!match) {
        const known = PROMPT_TXT_OPTIONS.find((o) => o.flag === flag.toLowerCase());
        if (known) sink.add('prompt-option', 'warning', offsets, `sd-scripts cannot read the value of --${flag} ("${piece.slice(flag.length).trim()}") and ignores it; it expects ${known.summary}.`);
        else sink.add('prompt-option', 'warning', offsets, `sd-scripts does not know the option --${flag} and ignores it. Options: ${PROMPT_TXT_OPTIONS.filter((o) => o.key).map((o) => `--${o.flag}`).join(' ')}.`);
        continue;
      }
      const value = piece.slice(match.flag.length).trim();
      pl.options.push({ flag: match.flag, value, key: match.key || undefined, offsets });
      if (match.key === 'sample_steps') {
        const n = Number(/^\d+/.exec(value)?.[0] ?? '30');
        if (n < 1 || n > 1000) sink.add('prompt-option', 'warning', offsets, 'sd-scripts clamps --s to 1–1000.');
      }
      if ((match.key === 'width' || match.key === 'height') && Number(/^\d+/.exec(value)?.[0] ?? '8') % 8 !== 0) {
        const n = Number(/^\d+/.exec(value)?.[0]);
        sink.add('prompt-option', 'info', offsets, `sd-scripts rounds --${match.flag} down to a multiple of 8: ${Math.max(64, n - (n % 8))}.`);
      }
      if ((match.key === 'width' || match.key === 'height' || match.key === 'seed' || match.key === 'sample_steps') && !/^\d+$/.test(value)) {
        sink.add('prompt-option', 'warning', offsets, `Only the leading digits of "--${match.flag} ${value}" are read.`);
      }
    }
    out.push(pl);
  }
  return out;
}
