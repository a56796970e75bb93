// Adds up the TAP summaries that scripts/test-all.sh collected (and the in-host suite's own
// results) and prints one closing line "N passed, N failed[, N skipped]". Exits 1 if anything
// failed or if no test ran at all.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
for (const f of existsSync(dir) ? readdirSync(dir).sort() : []) {
  const text = readFileSync(join(dir, f), 'utf8');
  if (f.endsWith('.tap')) {
    const n = (k) => Number(text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? 0);
    const p = n('pass');
    const x = n('fail') + n('cancelled');
    const s = n('skipped') + n('todo');
    rows.push(`${f.replace(/\.tap$/, '').padEnd(12)} ${p} passed, ${x} failed${s ? `, ${s} skipped` : ''}`);
    passed += p;
    failed += x;
    skipped += s;
  } else if (f === 'in-host.json') {
    const r = JSON.parse(text);
    rows.push(`${'in-host'.padEnd(12)} ${r.passed ?? 0} passed, ${r.failed ?? 0} failed (mocha inside VS Code ${r.vscodeVersion ?? '?'})`);
    passed += r.passed ?? 0;
    failed += r.failed ?? 0;
    skipped += r.pending ?? 0;
  }
}
console.log('\n=== summary');
for (const r of rows) console.log(`  ${r}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
