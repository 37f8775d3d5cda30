// The console's JavaScript, gzipped, against its budget: fails when dist/assets/*.js together grow past it.
//   node scripts/bundle-budget.mjs   (after npm run build; make console-budget)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** kB (1000 bytes) of gzip, all JS chunks together. Raise it on purpose, in the commit that needs it. */
const BUDGET_KB = 205;

const assets = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'assets');
if (!fs.existsSync(assets)) {
  console.error('dist/assets is missing: build the console first (make console)');
  process.exit(1);
}
let total = 0;
for (const f of fs.readdirSync(assets).filter((n) => n.endsWith('.js'))) {
  const kb = gzipSync(fs.readFileSync(path.join(assets, f)), { level: 9 }).length / 1000;
  total += kb;
  console.log(`${f}: ${kb.toFixed(1)} kB gzip`);
}
const verdict = total <= BUDGET_KB ? 'within' : 'OVER';
console.log(`console JS: ${total.toFixed(1)} kB gzip, ${verdict} the ${BUDGET_KB} kB budget`);
process.exit(total <= BUDGET_KB ? 0 : 1);
