#!/usr/bin/env node
/**
 * The gateway's import-direction rule (run by `pnpm check`). Plain Node, no dependencies.
 *
 * Layers of server/src, top to bottom:
 *   transport  http/, realtime/, jobs/
 *   domain     domain/
 *   store      store/
 *   infra      redis/
 * Files directly in server/src/ (app.ts, main.ts, config.ts, metrics.ts, bootstrap.ts) are
 * the composition root: they import anything, and nothing in a layer imports them, except
 * config.ts and metrics.ts, which every layer may use.
 *
 * Rules (the name printed with each violation):
 *   upward          a layer imports one above it (store -> domain/transport, domain -> transport,
 *                   infra -> store/domain/transport)
 *   root            a layer imports a composition-root file other than config.ts / metrics.ts
 *   transport-store transport imports store/ (it goes through domain/)
 *   transport-infra transport imports redis/ other than redis/hub and redis/signals (live delivery)
 *   ioredis         `ioredis` imported (`import type` too) outside store/ and redis/
 *   raw-redis       a transport file calls Redis itself: `.cmd.x(` or `K.x(`
 *   no-layer        a file under server/src/ in a folder that is no layer
 *
 * Imports are found with a regex over the source with its comments blanked out:
 * `import … from '…'`, `import '…'`, `export … from '…'` (type-only forms included) and
 * `import('…')`. *.test.ts files are not checked.
 *
 * Usage: node scripts/check-layers.mjs [--root DIR]   (DIR: the repository root; default: this
 * script's parent). Prints `file:line: rule: message` per violation (file relative to DIR) and
 * a count per rule on stderr; exits 1 when there is any, 0 otherwise.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = /** @type {const} */ ({
  http: 'transport',
  realtime: 'transport',
  jobs: 'transport',
  domain: 'domain',
  store: 'store',
  redis: 'infra',
});
/** Top to bottom: a layer may import its own and those below it. */
export const ORDER = ['transport', 'domain', 'store', 'infra'];
/** Composition-root files every layer may import. */
export const SHARED_ROOT = new Set(['config', 'metrics']);
/** The only modules of redis/ transport may import. */
export const TRANSPORT_INFRA_ALLOWED = new Set(['redis/hub', 'redis/signals']);
/** Layers where `ioredis` may be imported. */
export const IOREDIS_LAYERS = new Set(['store', 'infra']);
/** Raw Redis command calls a transport file may not make. */
export const RAW_REDIS = [/\.cmd\.[a-z]+\(/g, /\bK\.[a-zA-Z]+\(/g];

/**
 * The source with comments replaced by spaces (newlines kept, so offsets and line numbers hold);
 * with `strings`, the insides of '…' and "…" strings too (template literals are kept: `${…}` is code).
 */
export function blankComments(src, strings = false) {
  let out = '';
  let i = 0;
  /** @type {null | "'" | '"' | '`'} */
  let quote = null;
  while (i < src.length) {
    const c = src[i];
    const d = src[i + 1];
    if (quote) {
      const hide = strings && quote !== '`';
      if (c === '\\' && i + 1 < src.length) {
        out += hide ? '  ' : c + d;
        i += 2;
        continue;
      }
      if (c === quote || (c === '\n' && quote !== '`')) quote = null;
      out += hide && quote !== null ? ' ' : c;
      i++;
      continue;
    }
    if (c === '/' && d === '/') {
      while (i < src.length && src[i] !== '\n') {
        out += ' ';
        i++;
      }
      continue;
    }
    if (c === '/' && d === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      for (; i < stop; i++) out += src[i] === '\n' ? '\n' : ' ';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    out += c;
    i++;
  }
  return out;
}

const STATIC_RE = /\b(import|export)(\s+type)?\s+(?:([^'";]*?)\s+from\s*)?(['"])([^'"\n]+)\4/g;
const DYNAMIC_RE = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** Every import/export-from in `code` (comments blanked): { spec, line, typeOnly }. */
export function findImports(code) {
  const out = [];
  const lineAt = (idx) => code.slice(0, idx).split('\n').length;
  for (const m of code.matchAll(STATIC_RE)) {
    // `export const x = …` and friends have no `from`: only `import '…'` may omit it.
    if (m[1] === 'export' && m[3] === undefined) continue;
    const clause = m[3] ?? '';
    if (m[1] === 'export' && !/^(\*|\*\s+as\s+[\w$]+|\{[^}]*\})$/s.test(clause.trim())) continue;
    out.push({ spec: m[5], line: lineAt(m.index), typeOnly: Boolean(m[2]) });
  }
  for (const m of code.matchAll(DYNAMIC_RE)) out.push({ spec: m[2], line: lineAt(m.index), typeOnly: false });
  return out.sort((a, b) => a.line - b.line);
}

/** The layer of a path relative to server/src (posix): a layer name, 'root', or null (no layer). */
export function layerOf(rel) {
  const i = rel.indexOf('/');
  if (i < 0) return 'root';
  return LAYERS[rel.slice(0, i)] ?? null;
}

/** A module path relative to server/src, without extension or `/index`, e.g. 'redis/hub'. */
function moduleOf(rel) {
  return rel.replace(/\.(ts|tsx|mts|js|mjs)$/, '').replace(/\/index$/, '');
}

/** Resolves a relative specifier of `fromRel` to a file path relative to server/src (posix), or null when it leaves server/src. */
function resolveSpec(srcDir, fromRel, spec) {
  const target = posix.normalize(posix.join(posix.dirname(fromRel), spec));
  if (target.startsWith('../') || target === '..') return null;
  const base = target.replace(/\.(js|mjs)$/, '');
  for (const cand of [target, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`]) {
    const abs = join(srcDir, ...cand.split('/'));
    if (existsSync(abs) && statSync(abs).isFile()) return cand;
  }
  return `${base}.ts`;
}

function walk(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...walk(p));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const above = (a, b) => ORDER.indexOf(a) < ORDER.indexOf(b);

/** Every violation under `<root>/server/src`: { file, line, rule, message } with `file` relative to root. */
export function check(root) {
  const srcDir = join(root, 'server', 'src');
  const violations = [];
  for (const abs of walk(srcDir).sort()) {
    const rel = relative(srcDir, abs).split(sep).join('/');
    const file = relative(root, abs).split(sep).join('/');
    const layer = layerOf(rel);
    const add = (line, rule, message) => violations.push({ file, line, rule, message });
    if (layer === null) {
      add(1, 'no-layer', `${rel.split('/')[0]}/ is no layer; move the file to http/, realtime/, jobs/, domain/, store/ or redis/`);
      continue;
    }
    const code = blankComments(readFileSync(abs, 'utf8'));
    for (const imp of findImports(code)) {
      const { spec, line, typeOnly } = imp;
      if (spec === 'ioredis' || spec.startsWith('ioredis/')) {
        if (!IOREDIS_LAYERS.has(layer)) add(line, 'ioredis', `${typeOnly ? 'import type from ' : ''}'ioredis' only in store/ and redis/ (this is ${layer === 'root' ? 'the composition root' : layer})`);
        continue;
      }
      if (!spec.startsWith('.')) continue;
      const target = resolveSpec(srcDir, rel, spec);
      if (target === null || layer === 'root') continue;
      const to = layerOf(target);
      const mod = moduleOf(target);
      if (to === 'root') {
        if (!SHARED_ROOT.has(mod)) add(line, 'root', `${layer} may not import the composition root's ${target} (only config.ts and metrics.ts)`);
        continue;
      }
      if (to === null || to === layer) continue;
      if (above(to, layer)) {
        add(line, 'upward', `${layer} may not import ${to} (${target})`);
        continue;
      }
      if (layer === 'transport' && to === 'store') add(line, 'transport-store', `transport may not import store/ (${target}); go through domain/`);
      else if (layer === 'transport' && to === 'infra' && !TRANSPORT_INFRA_ALLOWED.has(mod)) add(line, 'transport-infra', `transport may import from redis/ only redis/hub and redis/signals, not ${target}`);
    }
    if (layer === 'transport') {
      // Calls only: text inside strings and comments is no call.
      const lines = blankComments(readFileSync(abs, 'utf8'), true).split('\n');
      lines.forEach((text, i) => {
        for (const re of RAW_REDIS) for (const m of text.matchAll(re)) add(i + 1, 'raw-redis', `Redis command call \`${m[0]}\` in transport; move it to store/ behind domain/`);
      });
    }
  }
  return violations.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
}

function main(argv) {
  let root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root' && argv[i + 1]) root = resolve(argv[++i]);
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node scripts/check-layers.mjs [--root DIR]');
      return 0;
    } else {
      console.error(`check-layers: unknown argument ${argv[i]}`);
      return 2;
    }
  }
  if (!existsSync(join(root, 'server', 'src'))) {
    console.error(`check-layers: ${join(root, 'server', 'src')} does not exist`);
    return 2;
  }
  const v = check(root);
  for (const x of v) console.log(`${x.file}:${x.line}: ${x.rule}: ${x.message}`);
  if (v.length) {
    const per = {};
    for (const x of v) per[x.rule] = (per[x.rule] ?? 0) + 1;
    console.error(`check-layers: ${v.length} violation${v.length === 1 ? '' : 's'} (${Object.entries(per).map(([r, n]) => `${r} ${n}`).join(', ')})`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
