/**
 * Tokenises text with the shipped TextMate grammars through vscode-textmate + oniguruma (the
 * engine VS Code itself uses), so the scopes asserted here are the ones an editor shows.
 */
import { describe, it, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import * as oniguruma from 'vscode-oniguruma';
import * as textmate from 'vscode-textmate';
import { ROOT } from './helpers';

const SYNTAXES = path.join(ROOT, 'syntaxes');
const files: Record<string, string> = {
  'source.toml': 'toml.tmLanguage.json',
  'text.kohya-caption': 'kohya-caption.tmLanguage.json',
  'text.kohya-prompts': 'kohya-prompts.tmLanguage.json',
};
let registry: textmate.Registry;

before(async () => {
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm', { paths: [ROOT] }));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (s: string[]) => new oniguruma.OnigScanner(s),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      const f = files[scope];
      if (!f) return null;
      return textmate.parseRawGrammar(readFileSync(path.join(SYNTAXES, f), 'utf8'), path.join(SYNTAXES, f));
    },
  });
});

/** [text, innermost scope] for every token of every line. */
async function tokens(scope: string, text: string): Promise<Array<[string, string]>> {
  const grammar = await registry.loadGrammar(scope);
  assert.ok(grammar, scope);
  const out: Array<[string, string]> = [];
  let state = textmate.INITIAL;
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) {
      const s = line.slice(t.startIndex, t.endIndex);
      if (s.trim()) out.push([s, t.scopes[t.scopes.length - 1] ?? '']);
    }
    state = r.ruleStack;
  }
  return out;
}

const scopeOf = (toks: Array<[string, string]>, text: string) => toks.find(([s]) => s.trim() === text.trim())?.[1];

describe('TOML grammar', () => {
  it('colours the seed config: sections, keys, strings, numbers, booleans, arrays, comments', async () => {
    const t = await tokens(
      'source.toml',
      [
        '[training_arguments]',
        'output_name = "sdxl_lora" # name',
        "mixed_precision = 'fp16'",
        'learning_rate = 1e-5',
        'save_every_n_epochs = 1',
        'gradient_checkpointing = true',
        'optimizer_args = [ "scale_parameter=False", "relative_step=False",]',
        '[[datasets.subsets]]',
        'inline = { a = 1, b = "x" }',
        'multi = """',
        'line two',
        '"""',
        'after = 2',
      ].join('\n'),
    );
    assert.match(scopeOf(t, 'training_arguments') ?? '', /entity\.name\.section\.toml/);
    assert.equal(scopeOf(t, 'output_name'), 'support.type.property-name.toml');
    assert.equal(scopeOf(t, 'sdxl_lora'), 'string.quoted.double.basic.toml');
    assert.equal(scopeOf(t, 'name'), 'comment.line.number-sign.toml');
    assert.equal(scopeOf(t, 'fp16'), 'string.quoted.single.literal.toml');
    assert.equal(scopeOf(t, '1e-5'), 'constant.numeric.toml');
    assert.equal(scopeOf(t, 'true'), 'constant.language.boolean.toml');
    assert.equal(scopeOf(t, 'scale_parameter=False'), 'string.quoted.double.basic.toml');
    assert.match(scopeOf(t, 'subsets') ?? '', /entity\.name\.section\.toml/);
    assert.equal(scopeOf(t, 'a'), 'support.type.property-name.toml');
    assert.equal(scopeOf(t, 'line two'), 'string.quoted.triple.basic.block.toml');
    assert.equal(scopeOf(t, 'after'), 'support.type.property-name.toml');
    assert.equal(scopeOf(t, '2'), 'constant.numeric.toml');
  });
  it('marks stray text as invalid', async () => {
    const t = await tokens('source.toml', 'just words');
    assert.equal(scopeOf(t, 'just'), 'invalid.illegal.toml');
  });
});

describe('caption grammar', () => {
  it('splits tags, weights, wildcards and the keep-tokens separator', async () => {
    const t = await tokens('text.kohya-caption', 'tk, blue hair ||| (smile:1.2), {red|blue} dress, {{literal}}');
    assert.equal(scopeOf(t, 'tk'), 'entity.name.tag.kohya-caption');
    assert.equal(scopeOf(t, 'blue hair'), 'entity.name.tag.kohya-caption');
    assert.equal(scopeOf(t, '|||'), 'keyword.operator.keep-tokens.kohya-caption');
    assert.equal(scopeOf(t, '1.2'), 'constant.numeric.weight.kohya-caption');
    assert.equal(scopeOf(t, 'smile'), 'entity.name.tag.kohya-caption');
    assert.equal(scopeOf(t, 'red'), 'string.unquoted.option.kohya-caption');
    assert.equal(scopeOf(t, '|'), 'keyword.operator.alternative.kohya-caption');
    assert.equal(scopeOf(t, '{{'), 'constant.character.escape.kohya-caption');
    assert.equal(scopeOf(t, ','), 'punctuation.separator.tag.kohya-caption');
  });
});

describe('sample prompt grammar', () => {
  it('separates the prompt from its options', async () => {
    const t = await tokens('text.kohya-prompts', '# a comment\ntk, 1girl --n lowres, bad hands --w 1024 --h 1024 --d 42');
    assert.equal(scopeOf(t, '# a comment'), 'comment.line.number-sign.kohya-prompts');
    assert.equal(scopeOf(t, '1girl'), 'entity.name.tag.kohya-caption');
    assert.equal(scopeOf(t, 'tk'), 'entity.name.tag.kohya-caption');
    assert.equal(scopeOf(t, '--n'), 'keyword.other.option.negative.kohya-prompts');
    assert.match(scopeOf(t, ' lowres, bad hands') ?? '', /negative-prompt|markup\.deleted/);
    assert.equal(scopeOf(t, '--w'), 'keyword.other.option.kohya-prompts');
    assert.equal(scopeOf(t, '42'), 'constant.numeric.option-value.kohya-prompts');
  });
});
