/**
 * Tag expressions for the gallery filter: `1girl AND (smile OR grin) AND NOT hat`.
 *
 * Grammar (operators in capitals, or `&`, `|`, `!` / `-` before a term):
 *   or      := and ( ('OR' | '|') and )*
 *   and     := not ( ('AND' | '&')? not )*        adjacent terms mean AND
 *   not     := ('NOT' | '!' | '-') not | primary
 *   primary := '(' or ')' | term
 *   term    := tag | "quoted tag" | name:text | text:text
 *
 * A tag matches a caption tag case-insensitively, with `_` and space the same (`blue_hair` =
 * `blue hair`); `*` in a tag is a wildcard (`*_hair`). `name:` matches a substring of the file
 * name, `text:` a substring of the file name or caption. Errors carry the 0-based position.
 *
 * Evaluation is compiled once per query against a tag vocabulary (tags interned to numbers), so
 * 100,000 captions are filtered without building a set per image. Pure (no Node, no vscode):
 * the webview could use it too.
 */

export type TagQueryNode =
  | { kind: 'tag'; tag: string; wildcard: boolean; pos: number }
  | { kind: 'name'; text: string; pos: number }
  | { kind: 'text'; text: string; pos: number }
  | { kind: 'not'; operand: TagQueryNode }
  | { kind: 'and'; operands: TagQueryNode[] }
  | { kind: 'or'; operands: TagQueryNode[] };

export class TagQueryError extends Error {
  constructor(
    message: string,
    /** 0-based offset in the query where the problem is */
    readonly position: number,
  ) {
    super(`${message} (at character ${position + 1})`);
    this.name = 'TagQueryError';
  }
}

type Token =
  | { t: 'and' | 'or' | 'not' | '(' | ')'; pos: number }
  | { t: 'word'; value: string; quoted: boolean; prefix?: 'name' | 'text'; pos: number };

/** `_` and spaces are the same in a tag; case does not matter. */
export function normaliseTag(tag: string): string {
  return tag.trim().toLowerCase().replace(/[_\s]+/g, ' ');
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const readQuoted = (start: number): { value: string; end: number } => {
    const quote = src[start] as string;
    let j = start + 1;
    let value = '';
    while (j < src.length && src[j] !== quote) {
      if (src[j] === '\\' && j + 1 < src.length) j++;
      value += src[j];
      j++;
    }
    if (j >= src.length) throw new TagQueryError(`The quote opened here is never closed`, start);
    return { value, end: j + 1 };
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ t: c, pos: i });
      i++;
      continue;
    }
    if (c === '&' || c === '|') {
      const pos = i;
      i += src[i + 1] === c ? 2 : 1;
      out.push({ t: c === '&' ? 'and' : 'or', pos });
      continue;
    }
    if (c === '!') {
      out.push({ t: 'not', pos: i });
      i++;
      continue;
    }
    if (c === '-' && i + 1 < src.length && !/[\s)]/.test(src[i + 1] as string) && (out.length === 0 || /\s|\(/.test(src[i - 1] ?? ' '))) {
      out.push({ t: 'not', pos: i });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const q = readQuoted(i);
      out.push({ t: 'word', value: q.value, quoted: true, pos: i });
      i = q.end;
      continue;
    }
    // a bare word runs to whitespace or a parenthesis; a tag such as `:)` or `^_^` stays one word
    const start = i;
    let word = '';
    while (i < src.length && !/[\s()"]/.test(src[i] as string)) word += src[i++];
    const m = /^(name|text):$/i.exec(word);
    if (m && (src[i] === '"' || src[i] === "'")) {
      const q = readQuoted(i);
      out.push({ t: 'word', value: q.value, quoted: true, prefix: (m[1] as string).toLowerCase() as 'name' | 'text', pos: start });
      i = q.end;
      continue;
    }
    const pm = /^(name|text):(.+)$/i.exec(word);
    if (pm) {
      out.push({ t: 'word', value: pm[2] as string, quoted: false, prefix: (pm[1] as string).toLowerCase() as 'name' | 'text', pos: start });
      continue;
    }
    if (m) throw new TagQueryError(`"${word}" needs the text to look for after the colon`, start);
    if (word === 'AND') out.push({ t: 'and', pos: start });
    else if (word === 'OR') out.push({ t: 'or', pos: start });
    else if (word === 'NOT') out.push({ t: 'not', pos: start });
    else out.push({ t: 'word', value: word, quoted: false, pos: start });
  }
  return out;
}

/** Parses a query; an empty query gives `undefined` (everything matches). Throws TagQueryError. */
export function parseTagQuery(src: string): TagQueryNode | undefined {
  const tokens = tokenize(src);
  if (tokens.length === 0) return undefined;
  let k = 0;
  const peek = (): Token | undefined => tokens[k];
  const describe = (t: Token): string => (t.t === 'word' ? `"${t.value}"` : t.t === '(' || t.t === ')' ? `"${t.t}"` : t.t.toUpperCase());

  const parseOr = (): TagQueryNode => {
    const first = parseAnd();
    const operands = [first];
    while (peek()?.t === 'or') {
      k++;
      operands.push(parseAnd());
    }
    return operands.length === 1 ? first : { kind: 'or', operands };
  };
  const parseAnd = (): TagQueryNode => {
    const first = parseNot();
    const operands = [first];
    for (;;) {
      const t = peek();
      if (!t) break;
      if (t.t === 'and') {
        k++;
        operands.push(parseNot());
      } else if (t.t === 'word' || t.t === 'not' || t.t === '(') {
        operands.push(parseNot());
      } else break;
    }
    return operands.length === 1 ? first : { kind: 'and', operands };
  };
  const parseNot = (): TagQueryNode => {
    const t = peek();
    if (t?.t === 'not') {
      k++;
      return { kind: 'not', operand: parseNot() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): TagQueryNode => {
    const t = peek();
    if (!t) {
      const last = tokens[tokens.length - 1] as Token;
      throw new TagQueryError(`The query ends after ${describe(last)}: a tag is missing`, src.length);
    }
    if (t.t === '(') {
      k++;
      if (peek()?.t === ')') throw new TagQueryError('Empty parentheses', t.pos);
      const inner = parseOr();
      const close = peek();
      if (close?.t !== ')') {
        throw new TagQueryError(
          close ? `Expected ")" to close the "(" at character ${t.pos + 1}, found ${describe(close)}` : `The "(" opened here is never closed`,
          close ? close.pos : t.pos,
        );
      }
      k++;
      return inner;
    }
    if (t.t === 'word') {
      k++;
      if (t.prefix === 'name') return { kind: 'name', text: t.value.toLowerCase(), pos: t.pos };
      if (t.prefix === 'text') return { kind: 'text', text: t.value.toLowerCase(), pos: t.pos };
      const tag = normaliseTag(t.value);
      if (tag === '') throw new TagQueryError('An empty tag', t.pos);
      return { kind: 'tag', tag, wildcard: tag.includes('*'), pos: t.pos };
    }
    throw new TagQueryError(`Expected a tag, found ${describe(t)}`, t.pos);
  };

  const node = parseOr();
  const rest = peek();
  if (rest) {
    throw new TagQueryError(rest.t === ')' ? 'This ")" has no matching "("' : `Unexpected ${describe(rest)}`, rest.pos);
  }
  return node;
}

/** Formats a query tree back to text (for messages and tests): fully parenthesised. */
export function formatTagQuery(n: TagQueryNode): string {
  switch (n.kind) {
    case 'tag':
      return /[\s()"'&|!]/.test(n.tag) ? JSON.stringify(n.tag) : n.tag;
    case 'name':
      return `name:${JSON.stringify(n.text)}`;
    case 'text':
      return `text:${JSON.stringify(n.text)}`;
    case 'not':
      return `NOT ${formatTagQuery(n.operand)}`;
    case 'and':
      return `(${n.operands.map(formatTagQuery).join(' AND ')})`;
    case 'or':
      return `(${n.operands.map(formatTagQuery).join(' OR ')})`;
  }
}

// ---- evaluation --------------------------------------------------------------------------------

/** Interns normalised tags to small numbers. */
export class TagVocabulary {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];

  /** The id of a tag (normalised first), adding it when new. */
  intern(tag: string): number {
    const t = normaliseTag(tag);
    let id = this.ids.get(t);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(t, id);
      this.names.push(t);
    }
    return id;
  }

  idOf(normalisedTag: string): number | undefined {
    return this.ids.get(normalisedTag);
  }

  get size(): number {
    return this.names.length;
  }

  /** Ids of every tag the glob (`*` = any run of characters) matches. */
  matching(glob: string): Set<number> {
    const re = new RegExp(`^${glob.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    const out = new Set<number>();
    this.names.forEach((n, i) => {
      if (re.test(n)) out.add(i);
    });
    return out;
  }
}

/** What the filter looks at for one image. */
export interface TagQueryDoc {
  /** interned tag ids (see TagVocabulary) */
  tagIds: ArrayLike<number>;
  /** file name, lower case */
  name: string;
  /** caption text, lower case ('' when none) */
  text: string;
}

export type TagPredicate = (doc: TagQueryDoc) => boolean;

function hasAny(ids: ArrayLike<number>, set: Set<number>): boolean {
  for (let i = 0; i < ids.length; i++) if (set.has(ids[i] as number)) return true;
  return false;
}

function hasId(ids: ArrayLike<number>, id: number): boolean {
  for (let i = 0; i < ids.length; i++) if (ids[i] === id) return true;
  return false;
}

/** Compiles a query tree into a predicate over documents whose tags come from `vocab`. */
export function compileTagQuery(node: TagQueryNode | undefined, vocab: TagVocabulary): TagPredicate {
  if (!node) return () => true;
  switch (node.kind) {
    case 'tag': {
      if (node.wildcard) {
        const set = vocab.matching(node.tag);
        if (set.size === 0) return () => false;
        return (d) => hasAny(d.tagIds, set);
      }
      const id = vocab.idOf(node.tag);
      if (id === undefined) return () => false;
      return (d) => hasId(d.tagIds, id);
    }
    case 'name': {
      const s = node.text;
      return (d) => d.name.includes(s);
    }
    case 'text': {
      const s = node.text;
      return (d) => d.name.includes(s) || d.text.includes(s);
    }
    case 'not': {
      const p = compileTagQuery(node.operand, vocab);
      return (d) => !p(d);
    }
    case 'and': {
      const ps = node.operands.map((o) => compileTagQuery(o, vocab));
      return (d) => {
        for (const p of ps) if (!p(d)) return false;
        return true;
      };
    }
    case 'or': {
      const ps = node.operands.map((o) => compileTagQuery(o, vocab));
      return (d) => {
        for (const p of ps) if (p(d)) return true;
        return false;
      };
    }
  }
}

/** Parse + compile in one step (throws TagQueryError). */
export function tagFilter(query: string, vocab: TagVocabulary): TagPredicate {
  return compileTagQuery(parseTagQuery(query), vocab);
}
