// Builds widget/dist/widget.js (the loader), chat.<lang>.js (Preact + the chat) and
// i18n.<lang>.js, prints every file's min+gzip bytes, and fails (exit 1) when a budget
// is exceeded: `pnpm build`, `pnpm test` and CI all run this.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { minify } from 'terser';
import { compressBoth } from '../scripts/precompress.mjs';

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

/** Styles are written one rule per line; the bundles get them without the newlines. */
const cssPlugin = {
  name: 'css-one-line',
  setup(b) {
    b.onLoad({ filter: /-css\.ts$/ }, (a) => ({ loader: 'ts', contents: readFileSync(a.path, 'utf8').replace(/`[^`]*`/g, (m) => m.replace(/\n/g, '')) }));
  },
};

/**
 * The message keys (i18n.ts `K`) are an enum numbered from 0 and every catalogue
 * lists them in that order, so a catalogue ships as an array: `["Open chat",…]`, not
 * `{0:"Open chat",…}`. Fails the build when a catalogue's keys are not exactly K in order.
 */
const KEYS = [...readFileSync(join(here, 'src/i18n.ts'), 'utf8').match(/export enum K \{([^}]*)\}/)[1].matchAll(/(\w+),/g)].map((m) => m[1]);
const catalogueAsArray = {
  name: 'catalogue-as-array',
  setup(b) {
    b.onLoad({ filter: /[\\/]i18n[\\/]\w+\.ts$/ }, (a) => {
      const src = readFileSync(a.path, 'utf8');
      const keys = [...src.matchAll(/^ {2}\[K\.(\w+)\]: /gm)].map((m) => m[1]);
      if (keys.join() !== KEYS.join()) throw new Error(`${a.path}: keys must be exactly those of K, in its order`);
      const contents = src
        .replace(/(: Catalogue = )\{/, '$1[')
        .replace(/^\};$/m, '] as unknown as Catalogue;')
        .replace(/^ {2}\[K\.\w+\]: /gm, '  ');
      return { loader: 'ts', contents };
    });
  },
};

/** One mangle cache for every bundle, so the ctx fields the loader hands to chat.js get the same short names in both. */
let mangleCache = {};

/** esbuild bundles (and mangles the listed props); terser's extra passes take another ~3% off. */
async function one(entry, extra = {}) {
  const res = await build({ ...common, plugins: [cssPlugin, catalogueAsArray], entryPoints: [join(here, 'src', entry)], mangleProps: MANGLE, mangleCache, ...extra });
  mangleCache = res.mangleCache;
  const out = await minify(res.outputFiles[0].text, {
    ecma: 2022,
    toplevel: true,
    // sequences:false: statements kept apart gzip a little better than comma chains.
    compress: { passes: 3, unsafe_arrows: true, unsafe_methods: true, pure_getters: true, sequences: false },
    format: { ascii_only: true },
  });
  return Buffer.from(out.code);
}

// Each chat.<lang>.js carries one catalogue (the budget counts the visitor's language);
// i18n.<lang>.js is a catalogue alone, for setLocale after load. All output is ASCII
// (`\u` escapes), so a host page in any charset decodes it right; for Cyrillic the
// escapes even gzip smaller than UTF-8 does (they share their `\u04` prefixes).
const LANGS = ['en', 'hr', 'ru'];
/** Ctx fields (ctx.ts) that the loader hands to chat.js: all but those read from the script tag's dataset. */
const CTX_FIELDS = 'opts root wrap launcher badge cross theme pick emit inject forget run';
/** Members of the chat's own classes and objects (client.ts, chat.tsx, ui.tsx). */
const CHAT_INTERNAL = 'look opTyping rated onNews registered engaged welcomed attempt failStreak candidate cacheTimer lastPage control outbox live1 upsertConv hasCid addEntry transmit checkAcks setAttrs markRead unread deliver engage persistToken loadOutbox saveOutbox saveCacheSoon onStorage kick goOffline gatewayUrl sentAt onChange phase ws kv token tick raw timer offlineSent announce redraw adopt hello handle fail drop flush';
const names = (s) => s.split(' ').join('|');
/**
 * Property names esbuild shortens: the two lists above, and Preact's own internal fields
 * (`__k`, `__e`, `_sb`…: Preact's build already shortened them, we take them down to one
 * letter; nothing outside this bundle touches them, no devtools, no hooks). Only names
 * that are never a protocol key, dataset key or DOM/JS built-in may be listed.
 */
const MANGLE = new RegExp(`^(__[A-Za-z]?|_sb|${names(CHAT_INTERNAL)}|${names(CTX_FIELDS)})$`);
/** The loader is built after the chats, from the same cache: only the ctx fields are mangled in it. */
const MANGLE_LOADER = new RegExp(`^(${names(CTX_FIELDS)})$`);
// Guards: a message key that matched MANGLE would be mangled instead of inlined as a number;
// a protocol key or a DOM option name (attachShadow's `mode`…) mangled breaks the wire or the page.
const PROTOCOL_KEYS = [...readFileSync(join(here, '../shared/src/protocol.ts'), 'utf8').matchAll(/\b(\w+)\??: /g)].map((m) => m[1]);
for (const k of [...KEYS, ...PROTOCOL_KEYS, 'mode', 'lang', 'sound', 'hark', 'src', 'site', 'q'])
  if (MANGLE.test(k)) throw new Error(`${k} matches MANGLE in build.mjs: it must keep its name`);
const jsx = { jsx: 'transform', jsxFactory: 'h', jsxFragment: 'Fragment' };
const lang = (l) => ({ ...common.define, __LANG__: JSON.stringify(l) });
const files = {};
for (const l of LANGS) {
  files[`chat.${l}.js`] = await one('chat.tsx', { ...jsx, define: lang(l) });
  // The enum object itself in the bundle means a key was used in a way esbuild cannot inline.
  if (files[`chat.${l}.js`].includes(KEYS.at(-1))) throw new Error(`chat.${l}.js carries the names of i18n.ts K: use K.name, never K[x]`);
  files[`i18n.${l}.js`] = await one('lang-entry.ts', { ...jsx, define: lang(l) });
}
// chat-files.js: attachments and the rating form, loaded when needed; it uses the chat's Preact (preact-shim.ts).
const shimPreact = { name: 'shim-preact', setup(b) { b.onResolve({ filter: /^preact$/ }, () => ({ path: join(here, 'src/preact-shim.ts') })); } };
files['chat-files.js'] = await one('more.tsx', { ...jsx, define: lang('en'), plugins: [cssPlugin, catalogueAsArray, shimPreact] });
if (files['chat-files.js'].length > 20_000) throw new Error('chat-files.js bundles a copy of Preact');
const hash = createHash('sha256');
for (const name of Object.keys(files).sort()) hash.update(files[name]);
const v = hash.digest('hex').slice(0, 10);
files['widget.js'] = await one('loader.ts', { mangleProps: MANGLE_LOADER, define: { ...common.define, __V__: JSON.stringify(v) } });
/**
 * On disk: widget.js under its stable URL; every chat and catalogue under a content-hashed
 * name, `chat.en.<v>.js`, that the loader was just built to ask for (the gateway caches those
 * as immutable), and under its plain name too, for a loader still cached from the build
 * before. Each beside its precompressed `.br` and `.gz` (scripts/precompress.mjs).
 */
const written = {};
const put = (name, bytes) => {
  writeFileSync(join(dist, name), bytes);
  const { br, gz } = compressBoth(bytes);
  writeFileSync(join(dist, `${name}.br`), br);
  writeFileSync(join(dist, `${name}.gz`), gz);
  written[name] = { raw: bytes.length, br: br.length, gz: gz.length };
};
for (const [name, bytes] of Object.entries(files)) {
  put(name, bytes);
  if (name !== 'widget.js') put(name.replace(/\.js$/, `.${v}.js`), bytes);
}
writeFileSync(join(dist, 'wire.json'), `${JSON.stringify({ v, files: written }, null, 2)}\n`);

// The size report and the budgets: every build, so `pnpm build` fails over budget.
const gz = (b) => gzipSync(b, { level: 9 }).length;
const row = (name, min, gzip, note = '') => console.log(`${name.padEnd(12)} ${String(min).padStart(7)} B min ${String(gzip).padStart(7)} B min+gzip${note}`);
const loader = gz(files['widget.js']);
const sizes = {};
let worst = 0;
for (const name of Object.keys(files).sort()) {
  const g = gz(files[name]);
  sizes[name] = { min: files[name].length, gzip: g };
  row(name, files[name].length, g);
  if (name.startsWith('chat.') && name !== 'chat-files.js') {
    sizes[`first chat ${name.slice(5, -3)}`] = loader + g;
    worst = Math.max(worst, loader + g);
  }
}
row('first chat', '', worst, `  = widget.js + largest chat.<lang>.js (budget ${TOTAL_BUDGET}, loader budget ${LOADER_BUDGET})`);
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
