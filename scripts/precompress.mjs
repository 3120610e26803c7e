#!/usr/bin/env node
/**
 * Precompresses a build's static files: beside every text file (js, css, html, svg, json,
 * map, txt) whose compressed form is smaller, `<file>.br` (brotli, quality 11) and
 * `<file>.gz` (gzip -9). The gateway (server/src/http/static.ts) sends the one the
 * browser's Accept-Encoding allows. Run by the widget's and the console's builds.
 *
 * Usage: node scripts/precompress.mjs DIR...   Plain Node, no dependencies.
 */
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const TEXT = /\.(js|mjs|css|html|svg|json|map|txt)$/;

/** Compresses one file's bytes both ways (what the gateway does itself when a .br/.gz is missing). */
export function compressBoth(body) {
  return {
    br: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }),
    gz: gzipSync(body, { level: 9 }),
  };
}

/** Writes DIR/**\/file.br and .gz for every text file below DIR; returns { file: { raw, br, gz } }. */
export function precompress(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (TEXT.test(e.name)) {
        const body = readFileSync(p);
        const { br, gz } = compressBoth(body);
        for (const [ext, bytes] of [['br', br], ['gz', gz]]) {
          if (bytes.length < body.length) writeFileSync(`${p}.${ext}`, bytes);
          else rmSync(`${p}.${ext}`, { force: true });
        }
        out[p.slice(dir.length + 1)] = { raw: body.length, br: br.length, gz: gz.length };
      }
    }
  };
  if (statSync(dir).isDirectory()) walk(dir);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const dir of process.argv.slice(2)) {
    const n = Object.keys(precompress(dir)).length;
    console.log(`precompress: ${n} files in ${dir} (.br, .gz)`);
  }
}
