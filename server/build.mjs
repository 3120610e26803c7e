// Builds server/dist/main.js: the gateway compiled to one ES module for plain `node`
// (`pnpm start`), with @hark/shared (TypeScript sources) and every npm dependency bundled in:
// loading ~300 modules from node_modules was ~290 ms of a restart's CPU, one file is about
// a third of that (BENCHMARKS.md, start-up). tsx is for development only (`pnpm dev`, tests).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const t0 = performance.now();
await build({
  entryPoints: [join(here, 'src/main.ts')],
  outfile: join(dist, 'main.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // The CommonJS dependencies, now inside an ES module, still call require() (Node's built-ins)
  // and may read __dirname/__filename.
  banner: {
    js: "import { createRequire as __harkRequire } from 'node:module'; import { fileURLToPath as __harkPath } from 'node:url'; import { dirname as __harkDir } from 'node:path'; const require = __harkRequire(import.meta.url); const __filename = __harkPath(import.meta.url); const __dirname = __harkDir(__filename);",
  },
  sourcemap: true,
  // Names kept (stack traces, Fastify plugin names, error class names in logs).
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
console.log(`server/dist/main.js built in ${Math.round(performance.now() - t0)} ms`);
