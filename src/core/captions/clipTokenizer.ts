/**
 * CLIP's byte-level BPE tokenizer (the one SDXL's text encoders use), enough to count the tokens of
 * a caption the way sd-scripts' tokenizer does, and an estimate for when no vocabulary is found.
 *
 * Like OpenAI's `simple_tokenizer.py` / Hugging Face's `CLIPTokenizer`: HTML entities unescaped,
 * white space collapsed, lower-cased, split with CLIP's pattern, each piece's UTF-8 bytes mapped to
 * printable characters (`bytes_to_unicode`), the last one marked `</w>`, then merged pair by pair
 * in the order of the merges list. (ftfy's mojibake repair is not done: captions are UTF-8.)
 *
 * The vocabulary comes from a folder with `vocab.json` + `merges.txt` (the Hugging Face layout,
 * e.g. the cache of openai/clip-vit-large-patch14) or from `bpe_simple_vocab_16e6.txt.gz`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { detectConfigKind } from '../config/detect';
import { parseTomlDocument, plainValue } from '../config/document';
import { effectiveOptions, flattenTrainingConfig } from '../config/training';

/** CLIP's pre-tokenizer pattern (the text is already lower-cased). */
const PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

/** GPT-2's reversible byte → printable character table. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const table = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  }
  return table;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function htmlUnescape(s: string): string {
  return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);/g, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[body] ?? m;
  });
}

/** What CLIP does to text before splitting it: unescape twice, collapse white space, lower-case. */
export function clipNormalise(text: string): string {
  return htmlUnescape(htmlUnescape(text)).trim().replace(/\s+/gu, ' ').trim().toLowerCase();
}

/** The pieces CLIP's pattern splits normalised text into. */
export function clipPreTokens(text: string): string[] {
  return clipNormalise(text).match(PATTERN) ?? [];
}

export class ClipTokenizer {
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();
  private readonly byteChars = bytesToUnicode();
  private readonly encoder = new TextEncoder();

  /**
   * `merges`: merge rules in priority order, each "a b"; `vocab`: token → id (optional; only
   * `ids` needs it).
   */
  constructor(
    merges: readonly string[],
    private readonly vocab?: ReadonlyMap<string, number>,
  ) {
    merges.forEach((m, i) => {
      const parts = m.split(' ');
      if (parts.length === 2 && parts[0] && parts[1] && !this.ranks.has(m)) this.ranks.set(m, i);
    });
  }

  get mergeCount(): number {
    return this.ranks.size;
  }

  /** BPE of one pre-token (already byte-mapped). */
  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = [...token];
    let word = chars.length <= 1 ? [token + '</w>'] : [...chars.slice(0, -1), chars[chars.length - 1] + '</w>'];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best] as string;
      const second = word[best + 1] as string;
      const next: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else next.push(word[i++] as string);
      }
      word = next;
    }
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }

  /** The BPE tokens of a text (without the start/end tokens). */
  tokens(text: string): string[] {
    const out: string[] = [];
    for (const piece of clipPreTokens(text)) {
      let mapped = '';
      for (const b of this.encoder.encode(piece)) mapped += this.byteChars[b];
      out.push(...this.bpe(mapped));
    }
    return out;
  }

  /** The number of tokens of a text (without the start/end tokens). */
  count(text: string): number {
    let n = 0;
    for (const piece of clipPreTokens(text)) {
      let mapped = '';
      for (const b of this.encoder.encode(piece)) mapped += this.byteChars[b];
      n += this.bpe(mapped).length;
    }
    return n;
  }

  /** Token ids (needs the vocabulary; unknown tokens get -1). */
  ids(text: string): number[] {
    return this.tokens(text).map((t) => this.vocab?.get(t) ?? -1);
  }
}

/**
 * A rough token count without a vocabulary: one token per short word, longer words a token per
 * six letters, one per digit and per run of punctuation. Labelled as an estimate wherever shown.
 */
export function estimateClipTokens(text: string): number {
  let n = 0;
  for (const piece of clipPreTokens(text)) {
    const c = piece.codePointAt(0) ?? 0;
    if (/\p{L}/u.test(String.fromCodePoint(c))) n += Math.max(1, Math.ceil([...piece].length / 6));
    else n += 1;
  }
  return n;
}

/** Merge rules from a `merges.txt` or the unzipped `bpe_simple_vocab_16e6.txt`: the header line skipped, CLIP's 48,894 kept. */
export function parseMerges(text: string): string[] {
  const lines = text.replace(/\r\n?/g, '\n').trim().split('\n');
  return lines.slice(1, 49152 - 256 - 2 + 1).filter((l) => l.trim() !== '');
}

export interface ClipVocabularySource {
  /** the file(s) it was read from, for messages */
  from: string;
  tokenizer: ClipTokenizer;
}

/**
 * Loads the tokenizer from a path: a folder with `merges.txt` (+ `vocab.json`) or
 * `bpe_simple_vocab_16e6.txt.gz`, or one of those files. Throws with a clear message when the path
 * holds neither or a file is damaged.
 */
export function loadClipTokenizer(p: string): ClipVocabularySource {
  const isDir = statSync(p).isDirectory();
  const dir = isDir ? p : path.dirname(p);
  const merges = isDir ? path.join(dir, 'merges.txt') : p.endsWith('.json') ? path.join(dir, 'merges.txt') : p;
  const gz = isDir ? path.join(dir, 'bpe_simple_vocab_16e6.txt.gz') : p;
  let text: string;
  let from: string;
  if (existsSync(merges) && !merges.endsWith('.gz')) {
    text = readFileSync(merges, 'utf8');
    from = merges;
  } else if (existsSync(gz) && gz.endsWith('.gz')) {
    try {
      text = gunzipSync(readFileSync(gz)).toString('utf8');
    } catch (e) {
      throw new Error(`${gz} is not a readable gzip file: ${(e as Error).message}`);
    }
    from = gz;
  } else {
    throw new Error(`${p} has no merges.txt or bpe_simple_vocab_16e6.txt.gz`);
  }
  const rules = parseMerges(text);
  if (rules.length === 0) throw new Error(`${from} holds no merge rules`);
  let vocab: Map<string, number> | undefined;
  const vocabFile = path.join(dir, 'vocab.json');
  if (existsSync(vocabFile)) {
    try {
      vocab = new Map(Object.entries(JSON.parse(readFileSync(vocabFile, 'utf8')) as Record<string, number>));
    } catch (e) {
      throw new Error(`${vocabFile} is not valid JSON: ${(e as Error).message}`);
    }
  }
  return { from, tokenizer: new ClipTokenizer(rules, vocab) };
}

/** Where a CLIP vocabulary is looked for when no path is set: the Hugging Face cache. */
export function clipVocabularyCandidates(env: { HOME?: string; HF_HOME?: string; HF_HUB_CACHE?: string }): string[] {
  const hubs = [
    env.HF_HUB_CACHE,
    env.HF_HOME ? path.join(env.HF_HOME, 'hub') : undefined,
    env.HOME ? path.join(env.HOME, '.cache', 'huggingface', 'hub') : undefined,
  ].filter((x): x is string => !!x);
  const out: string[] = [];
  for (const hub of hubs) {
    for (const repo of ['models--openai--clip-vit-large-patch14', 'models--laion--CLIP-ViT-bigG-14-laion2B-39B-b160k']) {
      const snaps = path.join(hub, repo, 'snapshots');
      let names: string[] = [];
      try {
        names = readdirSync(snaps).sort();
      } catch {
        continue;
      }
      for (const n of names) {
        const d = path.join(snaps, n);
        if (existsSync(path.join(d, 'merges.txt'))) out.push(d);
      }
    }
  }
  return out;
}

/** A token counter for the caption rules: the real tokenizer when found, else the estimate. */
export interface TokenCounter {
  count(text: string): number;
  estimate: boolean;
  /** where the vocabulary came from, or why there is none */
  source: string;
}

export function tokenCounter(explicit: string | null, env: Parameters<typeof clipVocabularyCandidates>[0]): TokenCounter & { error?: string } {
  let error: string | undefined;
  if (explicit) {
    try {
      const v = loadClipTokenizer(explicit);
      return { count: (t) => v.tokenizer.count(t), estimate: false, source: v.from };
    } catch (e) {
      error = (e as Error).message;
    }
  }
  for (const c of clipVocabularyCandidates(env)) {
    try {
      const v = loadClipTokenizer(c);
      return { count: (t) => v.tokenizer.count(t), estimate: false, source: v.from, ...(error ? { error } : {}) };
    } catch {
      // try the next one
    }
  }
  return { count: estimateClipTokens, estimate: true, source: 'no CLIP vocabulary found', ...(error ? { error } : {}) };
}

/** `max_token_length` of a training config's text (null: not a training config, or not set). */
export function maxTokenLengthOfConfig(fileName: string, text: string): number | null {
  if (detectConfigKind(fileName, text) !== 'training') return null;
  const opt = effectiveOptions(flattenTrainingConfig(parseTomlDocument(text.replace(/^\ufeff/, '')))).get('max_token_length');
  const v = opt ? plainValue(opt.value) : undefined;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : typeof v === 'bigint' ? Number(v) : null;
}
