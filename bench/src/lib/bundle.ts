/**
 * Benchmarked servers compiled the way `pnpm start` runs the gateway (server/build.mjs): one
 * ES module with @hark/shared and every npm dependency bundled in, run by plain `node`, no tsx.
 * Under tsx a gateway's start compiled the sources on the spot (1.8–2.8 s on a busy box against
 * ~0.3 s for the bundle), which a restart benchmark would count as the product's.
 */
import { createRequire } from 'node:module';
import { basename, resolve } from 'node:path';
import { benchDir, repoDir } from './proc';

// esbuild is the server's build tool (server/package.json); the bench borrows it from there.
const esbuild = createRequire(resolve(repoDir, 'server/package.json'))('esbuild') as { build(options: Record<string, unknown>): Promise<unknown> };

const built = new Map<string, Promise<string>>();

/**
 * `file` (relative to bench/, e.g. src/servers/gateway.ts) bundled into bench/dist/; the path to run
 * with node. Built once per run. HARK_BENCH_GATEWAY=<bundle.mjs>: that bundle instead (one built
 * earlier from other sources, for a before/after comparison under the same harness and load);
 * HARK_BENCH_GATEWAY=tsx: the TypeScript sources through tsx, as before.
 */
export function compiled(file: string): Promise<string> {
  const given = process.env.HARK_BENCH_GATEWAY;
  if (given === 'tsx') return Promise.resolve(file);
  if (given && file === 'src/servers/gateway.ts') return Promise.resolve(resolve(given));
  let p = built.get(file);
  if (p === undefined) {
    const outfile = resolve(benchDir, 'dist', basename(file).replace(/\.ts$/, '.mjs'));
    p = esbuild
      .build({
        entryPoints: [resolve(benchDir, file)],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20.19',
        // As server/build.mjs: the CommonJS dependencies inside an ES module still call require() and read __dirname.
        banner: {
          js: "import { createRequire as __harkRequire } from 'node:module'; import { fileURLToPath as __harkPath } from 'node:url'; import { dirname as __harkDir } from 'node:path'; const require = __harkRequire(import.meta.url); const __filename = __harkPath(import.meta.url); const __dirname = __harkDir(__filename);",
        },
        sourcemap: true,
        minify: false,
        legalComments: 'none',
        logLevel: 'warning',
      })
      .then(() => outfile);
    built.set(file, p);
  }
  return p as Promise<string>;
}
