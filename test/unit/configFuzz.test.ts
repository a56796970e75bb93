import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { checkConfig, parseTomlDocument, completionsAt, hoverAt, documentSymbols, pathAt, detectConfigKind, type ConfigKind } from '../../src/core/config';
import { fixture, fakeFs } from './configHelpers';

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SOURCES: [string, ConfigKind][] = [
  ['seed_XL_LoRA_config_file.toml', 'training'],
  ['sdxl_prodigy_lora.toml', 'training'],
  ['dataset_dreambooth.toml', 'dataset'],
  ['dataset_finetune.toml', 'dataset'],
  ['dataset_with_reg.toml', 'dataset'],
  ['seed_XL_LoRA_sample_prompt.toml', 'samplePrompts'],
];

const SNIPPETS = ['[', ']', '[[', ']]', '"', "'", '"""', '=', '\n', '#', ',', '{', '}', '.', '\\', '\u0000', '\r', '\t', 'é', '路径', '😀', '\u2028', '\ud800', '1e', '-', '_', 'true', 'nan', 'inf', '1979-05-27', '0x', '+'];

function mutate(text: string, rnd: () => number): string {
  const pos = Math.floor(rnd() * (text.length + 1));
  const op = Math.floor(rnd() * 7);
  switch (op) {
    case 0:
      return text.slice(0, pos); // truncation
    case 1: {
      const n = 1 + Math.floor(rnd() * 8);
      let bytes = '';
      for (let i = 0; i < n; i++) bytes += String.fromCharCode(Math.floor(rnd() * 0x3000));
      return text.slice(0, pos) + bytes + text.slice(pos);
    }
    case 2:
      return text.slice(0, pos) + (SNIPPETS[Math.floor(rnd() * SNIPPETS.length)] ?? '') + text.slice(pos);
    case 3:
      return text.slice(0, pos) + text.slice(pos + 1 + Math.floor(rnd() * 20));
    case 4: {
      const depth = 1 + Math.floor(rnd() * 200);
      const open = rnd() < 0.5 ? '[' : '{ a = ';
      return text.slice(0, pos) + `deep = ${open.repeat(depth)}` + text.slice(pos); // deep nesting
    }
    case 5: {
      const lines = text.split('\n');
      const a = Math.floor(rnd() * lines.length);
      const b = Math.floor(rnd() * lines.length);
      [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
      return lines.join('\n');
    }
    default:
      return text.slice(0, pos) + text.slice(pos).replace(/"/, '');
  }
}

describe('config: fuzz', () => {
  it('no exception escapes and every syntax error becomes a diagnostic (3,000 mutations)', () => {
    const rnd = prng(20260216);
    const fs = fakeFs(['/w/images/a.png', '/w/10_tk/']);
    let syntaxBroken = 0;
    const disagreements: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const [name, kind] = SOURCES[i % SOURCES.length] ?? SOURCES[0]!;
      let text = fixture(name);
      const rounds = 1 + Math.floor(rnd() * 3);
      for (let r = 0; r < rounds; r++) text = mutate(text, rnd);
      const ds = checkConfig(kind, text, { fs, baseDir: '/w', fileName: name });
      assert.ok(Array.isArray(ds));
      for (const d of ds) {
        assert.ok(d.offsets[0] >= 0 && d.offsets[1] <= text.length && d.offsets[0] <= d.offsets[1], `${name} #${i}: bad offsets ${d.offsets}`);
        assert.ok(d.range.start.line >= 0 && d.range.end.line >= d.range.start.line);
        assert.notEqual(d.code, 'internal', `${name} #${i}: ${d.message}`);
      }
      let validToml = true;
      try {
        parse(text);
      } catch {
        validToml = false;
      }
      const doc = parseTomlDocument(text);
      // every syntax error of the document model is a diagnostic with its exact range
      const syntaxDiags = ds.filter((d) => d.code === 'toml-syntax' || d.code === 'duplicate-key');
      assert.deepEqual(syntaxDiags.map((d) => d.offsets).sort(), doc.syntaxErrors.map((e) => e.offsets).sort(), `${name} #${i}`);
      if (!validToml) {
        syntaxBroken++;
        if (doc.syntaxErrors.length === 0) disagreements.push(text);
      }
      const off = Math.floor(rnd() * (text.length + 1));
      completionsAt(kind, text, off, { fs, baseDir: '/w' });
      hoverAt(kind, text, off);
      pathAt(text, off, kind);
      documentSymbols(text);
      detectConfigKind(name, text);
    }
    assert.ok(syntaxBroken > 500, `only ${syntaxBroken} mutations broke the syntax`);
    // a second TOML parser (smol-toml) finds no error our model misses
    assert.deepEqual(disagreements.map((t) => t.slice(0, 200)), []);
  });
  it('parses pathological inputs without throwing', () => {
    for (const text of ['', '\u0000', '['.repeat(10000), 'a = ' + '['.repeat(5000) + ']'.repeat(5000), 'x = """', '\ufeffseed = 1', 'a = "\ud800"', '[a]\n'.repeat(3), '= = =']) {
      for (const kind of ['training', 'dataset', 'samplePrompts'] as const) {
        const ds = checkConfig(kind, text);
        assert.ok(ds.every((d) => d.code !== 'internal'), `${kind} ${JSON.stringify(text.slice(0, 20))}: ${ds.map((d) => d.message).join('; ')}`);
      }
    }
  });
});
