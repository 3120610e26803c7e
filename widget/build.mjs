// Builds widget/dist/widget.js (the loader) and widget/dist/chat.js (Preact + the chat).
// `node build.mjs --size` also prints min+gzip bytes and fails over budget.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { minify } from 'terser';

/** Loader budget (issue 3): what every page of every site downloads. */
const LOADER_BUDGET = 2560;
/** Loader plus everything a first chat needs. */
const TOTAL_BUDGET = 16384;

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
mkdirSync(dist, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  format: 'iife',
  // Browsers with adoptedStyleSheets and CSSStyleSheet() (Chrome 73, Firefox 101, Safari 16.4)
  // all have class fields and the rest of ES2022.
  target: 'es2022',
  legalComments: 'none',
  // ASCII output: a host page in another charset still decodes the script correctly.
  charset: 'ascii',
  write: false,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

/** esbuild bundles (and mangles the listed props); terser's extra passes take another ~3% off. */
async function one(entry, extra = {}) {
  const res = await build({ ...common, entryPoints: [join(here, 'src', entry)], ...extra });
  const out = await minify(res.outputFiles[0].text, {
    ecma: 2022,
    toplevel: true,
    compress: { passes: 3, unsafe_arrows: true, unsafe_methods: true, pure_getters: true },
    format: { ascii_only: extra.charset !== 'utf8' },
  });
  return Buffer.from(out.code);
}

// Each chat.<lang>.js carries one catalogue (the budget counts the visitor's language);
// i18n.<lang>.js is a catalogue alone, for setLocale after load. As UTF-8 the Croatian
// and Russian strings are a third of their \u-escaped size; the BOM makes every browser
// decode them as UTF-8 whatever the host page's charset or the server's Content-Type
// (BOM sniffing comes first when a script is decoded).
const LANGS = ['en', 'hr', 'ru'];
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/**
 * Internal member names of the chat, shortened by esbuild (Preact mangles its private
 * fields the same way). Only names that are never a protocol key, catalogue key, ctx
 * field (shared with the separately built loader) or DOM/JS built-in may be listed.
 */
const MANGLE = new RegExp(
  `^(${'opTyping rated onNews registered engaged welcomed attempt failStreak candidate cacheTimer lastPage control outbox live1 upsertConv hasCid addEntry leaveMessage transmit checkAcks setAttrs markRead unread deliver engage persistToken loadOutbox saveOutbox saveCacheSoon onStorage kick gatewayUrl sentAt onChange mode ws kv token tick raw timer offlineSent announce redraw adopt hello handle fail drop flush queue'.split(' ').join('|')})$`,
);
const jsx = { mangleProps: MANGLE, jsx: 'transform', jsxFactory: 'h', jsxFragment: 'Fragment', charset: 'utf8' };
const lang = (l) => ({ ...common.define, __LANG__: JSON.stringify(l) });
const files = {};
for (const l of LANGS) {
  files[`chat.${l}.js`] = Buffer.concat([BOM, await one('chat.tsx', { ...jsx, define: lang(l) })]);
  files[`i18n.${l}.js`] = Buffer.concat([BOM, await one('lang-entry.ts', { ...jsx, define: lang(l) })]);
}
const hash = createHash('sha256');
for (const name of Object.keys(files).sort()) hash.update(files[name]);
const v = hash.digest('hex').slice(0, 10);
files['widget.js'] = await one('loader.ts', { define: { ...common.define, __V__: JSON.stringify(v) } });
for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dist, name), bytes);

if (process.argv.includes('--size')) {
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  const row = (name, min, gzip, note = '') => console.log(`${name.padEnd(12)} ${String(min).padStart(7)} B min ${String(gzip).padStart(7)} B min+gzip${note}`);
  const loader = gz(files['widget.js']);
  const sizes = {};
  let worst = 0;
  for (const name of Object.keys(files).sort()) {
    const g = gz(files[name]);
    sizes[name] = { min: files[name].length, gzip: g };
    row(name, files[name].length, g);
    if (name.startsWith('chat.')) worst = Math.max(worst, loader + g);
  }
  row('first chat', '', worst, `  = widget.js + largest chat.<lang>.js (budget ${TOTAL_BUDGET})`);
  writeFileSync(join(dist, 'sizes.json'), `${JSON.stringify({ ...sizes, firstChat: worst }, null, 2)}\n`);
  let ok = true;
  if (loader > LOADER_BUDGET) {
    console.error(`widget.js is ${loader} B min+gzip, over its budget of ${LOADER_BUDGET} B`);
    ok = false;
  }
  if (worst > TOTAL_BUDGET) {
    console.error(`widget.js + chat.<lang>.js is ${worst} B min+gzip, over the budget of ${TOTAL_BUDGET} B`);
    ok = false;
  }
  if (!ok) process.exit(1);
}
