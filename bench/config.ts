/**
 * Benchmark: full diagnostics of a ~300-line training config and completion at its end, against a
 * baseline measured in the same run: a plain smol-toml parse of the same text (the least any
 * checker must do).
 *
 *   node scripts/build.mjs --tests && node out/bench/config.js      (or bundle this file with esbuild)
 * Prints the median of many runs and the ratios to the baseline. Not a test: nothing fails on time.
 */
import { parse } from 'smol-toml';
import { checkTrainingConfig, completionsAt, hoverAt, OPTIONS, type KohyaOption } from '../src/core/config';

function valueFor(o: KohyaOption, i: number): string {
  if (o.name === 'resolution') return '"1024,1024"';
  if (o.choices && o.choices.length) return typeof o.choices[0] === 'number' ? String(o.choices[0]) : `"${o.choices[0]}"`;
  switch (o.type) {
    case 'bool':
      return i % 2 ? 'true' : 'false';
    case 'int':
      return String(i + 1);
    case 'float':
      return '0.5';
    case 'int|float':
      return '100';
    case 'list':
      return o.itemType === 'float' ? '[1e-4]' : '["a=1", "b=2"]';
    default:
      return `"value_${i}"`;
  }
}

/** ~300 lines: every option once in ten sections, with comments and blank lines. */
function makeConfig(): string {
  const lines: string[] = [];
  const per = Math.ceil(OPTIONS.length / 10);
  for (let s = 0; s < 10; s++) {
    lines.push(`[section_${s}]`, `# section ${s}: options ${s * per}..${(s + 1) * per - 1}`);
    for (const [i, o] of OPTIONS.slice(s * per, (s + 1) * per).entries()) {
      lines.push(`${o.name} = ${valueFor(o, i)}${i % 4 === 0 ? ' # a comment' : ''}`);
      if (i % 3 === 0) lines.push('');
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Median time of fn over `runs` calls. Each call gets a different text (a trailing comment with the
 * run number) so that the core's small parse cache never answers instead of the parser.
 */
function median(fn: (variant: string) => unknown, runs: number): number {
  const variants = Array.from({ length: runs + 20 }, (_, i) => `\n# run ${i}\n`);
  for (let i = 0; i < 20; i++) fn(variants[runs + i] ?? ''); // warm up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const v = variants[i] ?? '';
    const t0 = performance.now();
    fn(v);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

const text = makeConfig();
const lineCount = text.split('\n').length;
const endOffset = text.length - 1;
const midOffset = text.indexOf('learning_rate');
const runs = Number(process.argv.find((a) => a.startsWith('runs='))?.slice(5) ?? 200);

const keyText = text + 'lr_';
const valueText = text.replace('learning_rate = 0.5', 'learning_rate = ');
const broken = text.replace('seed = ', 'seed = "');
const base = median((v) => parse(text + v), runs);
const diag = median((v) => checkTrainingConfig(text + v), runs);
const diagBroken = median((v) => checkTrainingConfig(broken + v), runs);
// completion and hover each on a text not parsed before (a key completion parses the document)
const compKey = median((v) => completionsAt('training', keyText + v, endOffset + 4), runs);
const compValue = median((v) => completionsAt('training', valueText + v, midOffset + 16), runs);
const hover = median((v) => hoverAt('training', text + v, midOffset + 2), runs);

const f = (ms: number) => `${ms.toFixed(2)} ms`;
const r = (ms: number) => `${(ms / base).toFixed(1)}× baseline`;
console.log(`config: ${lineCount} lines, ${text.length} chars, ${checkTrainingConfig(text).length} diagnostics; median of ${runs} runs`);
console.log(`baseline (smol-toml parse)         ${f(base)}`);
console.log(`full diagnostics                   ${f(diag)}  (${r(diag)}; target < 20 ms)`);
console.log(`full diagnostics, 1 syntax error   ${f(diagBroken)}  (${r(diagBroken)})`);
console.log(`completion of a key               ${f(compKey)}  (${r(compKey)}; target < 10 ms)`);
console.log(`completion of a value              ${f(compValue)}  (${r(compValue)})`);
console.log(`hover                              ${f(hover)}  (${r(hover)})`);
