// Static checks of package.json `contributes` against the code (run by `npm run lint`):
// every contributed command has an id in src/constants.ts and a registerCommand call for it,
// every command has the "LoRA Workbench" category, and activation is never "*".
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const constants = readFileSync(join(root, 'src/constants.ts'), 'utf8');
const sources = [];
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith('.ts')) sources.push(readFileSync(p, 'utf8'));
  }
};
walk(join(root, 'src'));
const code = sources.join('\n');

const problems = [];
const keyOf = new Map([...constants.matchAll(/^\s+(\w+): '(loraWorkbench\.[\w.]+)'/gm)].map((m) => [m[2], m[1]]));
for (const c of pkg.contributes.commands) {
  if (c.category !== 'LoRA Workbench') problems.push(`${c.command}: category must be "LoRA Workbench"`);
  const key = keyOf.get(c.command);
  if (!key) problems.push(`${c.command}: not in src/constants.ts`);
  else if (!code.includes(`registerCommand(Commands.${key},`)) problems.push(`${c.command}: no registerCommand(Commands.${key}, …) in src/`);
}
if ((pkg.activationEvents ?? []).includes('*')) problems.push('activationEvents must not contain "*"');
for (const v of Object.values(pkg.contributes.views ?? {}).flat()) {
  if (!v.id.startsWith('loraWorkbench.')) problems.push(`view ${v.id}: ids start with "loraWorkbench."`);
}
if (problems.length) {
  console.error(`check-contributions: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-contributions: ${pkg.contributes.commands.length} commands ok`);
