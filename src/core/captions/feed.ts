/**
 * What sd-scripts feeds the text encoder for a caption file, step by step as `read_caption` and
 * `BaseDataset.process_caption` do (see the kohya reference, §3):
 *
 *  read:  UTF-8 (BOM kept), readlines(); without enable_wildcard lines[0].strip(), with it every
 *         non-blank line stripped and joined with "\n".
 *  1. caption_prefix + " " + caption, caption + " " + caption_suffix
 *  2. (caption dropout: random, not modelled)
 *  3. enable_wildcard: pick a line, `{{`/`}}` literal, `{a|b}` picks one; otherwise split("\n")[0]
 *  4. token processing only if shuffle_caption, token_warmup_step > 0 or caption_tag_dropout_rate > 0:
 *     with keep_tokens_separator in the caption: fixed / flex / fixed-suffix parts, each split on
 *     caption_separator, stripped, empty pieces dropped; otherwise split on caption_separator,
 *     stripped (empty pieces kept), the first keep_tokens fixed. Flex tokens are shuffled and
 *     dropped out (random; here through hooks, identity by default); joined with ", ".
 *  5. secondary_separator → caption_separator.
 *
 * Random choices go through `FeedChoices` so callers (rules, previews, tests) decide them.
 */
import { pyStrip } from './readCaption';
import { separatorOf, splitLines, type CaptionOptions } from './parse';

export interface FeedChoices {
  /** index of the wildcard line to use (default 0) */
  line?: (count: number) => number;
  /** index of the `{a|b}` option to use (default 0) */
  option?: (options: readonly string[]) => number;
  /** shuffles the flex tokens (default: keeps the order) */
  shuffle?: (tokens: string[]) => string[];
}

export interface FedCaption {
  /** the caption text after every step */
  caption: string;
  /** step 4 ran (shuffle_caption, token warm-up or tag dropout) */
  tokenProcessing: boolean;
  /** with token processing: the pieces that keep their place and the shuffled ones */
  fixed: string[];
  flex: string[];
  fixedSuffix: string[];
}

/** sd-scripts' `read_caption` on already decoded text; null for a file it rejects (empty). */
export function readCaptionText(decoded: string, enableWildcard: boolean): string | null {
  if (decoded.length === 0) return null; // assert len(lines) > 0
  const lines = splitLines(decoded).map((l) => decoded.slice(l.start, l.end));
  if (enableWildcard) {
    return lines
      .map((l) => pyStrip(l))
      .filter((l) => l !== '')
      .join('\n');
  }
  return pyStrip(lines[0] ?? '');
}

function pickIndex(i: number, n: number): number {
  return Number.isInteger(i) && i >= 0 && i < n ? i : 0;
}

/** Python's `str.split(sep)` for a non-empty separator. */
function pySplit(s: string, sep: string): string[] {
  return s.split(sep);
}

/** Step 3 with enable_wildcard: `{{`/`}}` are literal, `{a|b|c}` becomes one option. */
export function resolveWildcards(caption: string, choose: (options: readonly string[]) => number = () => 0): string {
  let r1 = '\u2985';
  let r2 = '\u2986';
  while (caption.includes(r1) || caption.includes(r2)) {
    r1 += '\u2985';
    r2 += '\u2986';
  }
  const escaped = caption.split('{{').join(r1).split('}}').join(r2);
  const replaced = escaped.replace(/\{([^}]+)\}/g, (_m, inner: string) => {
    const opts = inner.split('|');
    return opts[pickIndex(choose(opts), opts.length)] ?? '';
  });
  return replaced.split(r1).join('{').split(r2).join('}');
}

/** Steps 1–5 on the output of `readCaptionText`. Never throws. */
export function feedCaption(caption: string, options: CaptionOptions = {}, choices: FeedChoices = {}): FedCaption {
  const sep = separatorOf(options);
  let c = caption;
  if (options.captionPrefix) c = `${options.captionPrefix} ${c}`;
  if (options.captionSuffix) c = `${c} ${options.captionSuffix}`;
  if (options.enableWildcard === true) {
    if (c.includes('\n')) {
      const lines = c.split('\n');
      c = lines[pickIndex(choices.line?.(lines.length) ?? 0, lines.length)] ?? '';
    }
    c = resolveWildcards(c, choices.option);
  } else {
    c = c.split('\n')[0] ?? '';
  }
  const tokenProcessing =
    options.shuffleCaption === true || (options.tokenWarmupStep ?? 0) > 0 || (options.captionTagDropoutRate ?? 0) > 0;
  let fixed: string[] = [];
  let flex: string[] = [];
  let fixedSuffix: string[] = [];
  if (tokenProcessing) {
    const kts = options.keepTokensSeparator ?? '';
    const pieces = (s: string): string[] => pySplit(s, sep).map(pyStrip).filter((t) => t !== '');
    if (kts !== '' && c.includes(kts)) {
      const at = c.indexOf(kts);
      const fixedPart = c.slice(0, at);
      let flexPart = c.slice(at + kts.length);
      const at2 = flexPart.indexOf(kts);
      if (at2 >= 0) {
        fixedSuffix = pieces(flexPart.slice(at2 + kts.length));
        flexPart = flexPart.slice(0, at2);
      }
      fixed = pieces(fixedPart);
      flex = pieces(flexPart);
    } else {
      const tokens = pySplit(pyStrip(c), sep).map(pyStrip);
      const keep = Math.max(0, Math.trunc(options.keepTokens ?? 0));
      flex = tokens.slice();
      if (keep > 0) {
        fixed = tokens.slice(0, keep);
        flex = tokens.slice(keep);
      }
    }
    if (options.shuffleCaption === true && choices.shuffle) flex = choices.shuffle(flex.slice());
    c = [...fixed, ...flex, ...fixedSuffix].join(', ');
  }
  if (options.secondarySeparator) c = c.split(options.secondarySeparator).join(sep);
  return { caption: c, tokenProcessing, fixed, flex, fixedSuffix };
}

/** Read + feed in one go for decoded file text (BOM included); null when sd-scripts rejects the file. */
export function fedCaptionOf(decoded: string, options: CaptionOptions = {}, choices: FeedChoices = {}): FedCaption | null {
  const read = readCaptionText(decoded, options.enableWildcard === true);
  return read === null ? null : feedCaption(read, options, choices);
}
