// Builds server/dist/main.js: the gateway compiled to one ES module for plain `node`
// (`pnpm start`). @hark/shared (TypeScript sources) is bundled in; every npm dependency
// stays an import from node_modules. tsx is for development only (`pnpm dev`, tests).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const external = Object.keys(pkg.dependencies).filter((n) => !n.startsWith('@hark/'));
const dist = join(here, 'dist');
const t0 = performance.now();
await build({
  entryPoints: [join(here, 'src/main.ts')],
  outfile: join(dist, 'main.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  external,
  sourcemap: true,
  // Names kept (stack traces, Fastify plugin names, error class names in logs).
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
console.log(`server/dist/main.js built in ${Math.round(performance.now() - t0)} ms`);
