/**
 * scripts/check-layers.mjs, run as `pnpm check` runs it (a child process), over small trees
 * written to a temp dir: a clean tree passes with exit 0 and no output; each rule fires on
 * a file that breaks it, at the right line, with exit 1.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/check-layers.mjs');
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A tree with `files` (paths relative to server/src) and the script's verdict on it. */
function run(files: Record<string, string>): { code: number | null; lines: string[]; stderr: string } {
  const root = mkdtempSync(join(tmpdir(), 'hark-layers-'));
  roots.push(root);
  for (const [rel, text] of Object.entries(files)) {
    const p = join(root, 'server', 'src', rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  const r = spawnSync(process.execPath, [SCRIPT, '--root', root], { encoding: 'utf8' });
  return { code: r.status, lines: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
}

/** A well-layered tree: every allowed kind of import, and forbidden ones only in comments and tests. */
const CLEAN: Record<string, string> = {
  'app.ts': [
    "import { connect } from './redis/client';",
    "import { routes } from './http/routes';",
    "import { Domain } from './domain';",
    "import { getThing } from './store/things';",
    "import { readConfig } from './config';",
    'export const app = { connect, routes, Domain, getThing, readConfig };',
  ].join('\n'),
  'main.ts': "import { app } from './app';\nimport { bootstrap } from './bootstrap';\nexport { app, bootstrap };",
  'bootstrap.ts': "import { getThing } from './store/things';\nexport const bootstrap = getThing;",
  'config.ts': 'export const readConfig = () => ({});',
  'metrics.ts': 'export const metrics = {};',
  'http/routes.ts': [
    "import { HarkError } from '@hark/shared';",
    "import type { FastifyInstance } from 'fastify';",
    'import {',
    '  Domain,',
    '  type Thing,',
    "} from '../domain/index';",
    "import { Hub } from '../redis/hub';",
    "import { publishSignal } from '../redis/signals.js';",
    "import { readConfig } from '../config';",
    "import { metrics } from '../metrics';",
    "import { socket } from '../realtime/socket';",
    "// import { K } from '../store/keys'; (a comment: not an import)",
    '/* ctx.c.cmd.hget(K.conv(id)) in a comment is not a call */',
    "const url = 'http://example.com/'; // a string with // in it",
    'export function routes(app: FastifyInstance, d: Domain, t?: Thing) {',
    '  return [app, d, t, HarkError, Hub, publishSignal, readConfig, metrics, socket, url, d.things.get("K.conv(")];',
    '}',
  ].join('\n'),
  'http/routes.test.ts': "import { K } from '../store/keys';\nimport { Redis } from 'ioredis';\nK.conv(new Redis().cmd.get('x'));",
  'realtime/socket.ts': "import type { Domain } from '../domain';\nimport { routes } from '../http/routes';\nexport const socket = (d: Domain) => routes;",
  'jobs/sweep.ts': "import { Domain } from '../domain/index.ts';\nexport * from '../domain/things';\nexport const sweep = (d: Domain) => d;",
  'domain/index.ts': "import { getThing } from '../store/things';\nimport { K } from '../store/keys';\nimport { readConfig } from '../config';\nexport class Domain { things = { get: (s: string) => getThing(s) }; key = K.conv('x'); cfg = readConfig; }\nexport type Thing = string;",
  'domain/things.ts': "export { Domain } from './index';\nexport type { Thing } from './index';\nexport const x = await import('./index');",
  'store/things.ts': "import type { Redis } from 'ioredis';\nimport { connect } from '../redis/client';\nimport { metrics } from '../metrics';\nexport const getThing = (s: string, r?: Redis) => [s, r, connect, metrics];",
  'store/keys.ts': "export const K = { conv: (c: string) => '{conv:' + c + '}:meta' };",
  'redis/client.ts': "import { Redis } from 'ioredis';\nimport { readConfig } from '../config';\nexport const connect = () => [new Redis(), readConfig];",
  'redis/hub.ts': "import { connect } from './client';\nexport class Hub { c = connect; }",
  'redis/signals.ts': "export const publishSignal = () => 'K.conv(';",
};

const LINE = /^server\/src\/\S+\.ts:\d+: [a-z-]+: .+$/;

describe('scripts/check-layers.mjs', () => {
  it('passes a clean tree: exit 0, nothing printed', () => {
    const r = run(CLEAN);
    expect(r.lines).toEqual([]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each([
    ['store imports domain', 'store/bad.ts', "import { Domain } from '../domain';", 'upward', 'store may not import domain'],
    ['store imports transport', 'store/bad.ts', "import { routes } from '../http/routes';", 'upward', 'store may not import transport'],
    ['domain imports transport', 'domain/bad.ts', "import { socket } from '../realtime/socket';", 'upward', 'domain may not import transport'],
    ['infra imports store', 'redis/bad.ts', "import { K } from '../store/keys';", 'upward', 'infra may not import store'],
    ['infra imports domain', 'redis/bad.ts', "export { Domain } from '../domain/index';", 'upward', 'infra may not import domain'],
    ['infra imports transport', 'redis/bad.ts', "import '../jobs/sweep';", 'upward', 'infra may not import transport'],
    ['a layer imports the composition root', 'domain/bad.ts', "import { app } from '../app';", 'root', "domain may not import the composition root's app.ts"],
    ['transport imports bootstrap', 'http/bad.ts', "import { bootstrap } from '../bootstrap';", 'root', "transport may not import the composition root's bootstrap.ts"],
    ['transport imports store', 'http/bad.ts', "import { getThing } from '../store/things';", 'transport-store', 'transport may not import store/'],
    ['transport imports store, type only', 'realtime/bad.ts', "import type { K } from '../store/keys';", 'transport-store', 'transport may not import store/'],
    ['transport imports store dynamically', 'jobs/bad.ts', "export const k = () => import('../store/keys');", 'transport-store', 'transport may not import store/'],
    ['transport imports redis/client', 'realtime/bad.ts', "import { connect } from '../redis/client';", 'transport-infra', 'only redis/hub and redis/signals, not redis/client.ts'],
    ['transport imports ioredis', 'http/bad.ts', "import { Redis } from 'ioredis';", 'ioredis', "'ioredis' only in store/ and redis/"],
    ['transport imports ioredis types', 'jobs/bad.ts', "import type { Cluster, Redis } from 'ioredis';", 'ioredis', "import type from 'ioredis' only in store/ and redis/"],
    ['domain imports ioredis types', 'domain/bad.ts', "import type { Redis } from 'ioredis';", 'ioredis', "import type from 'ioredis' only in store/ and redis/"],
    ['the composition root imports ioredis', 'config.ts', "import { Redis } from 'ioredis';", 'ioredis', 'this is the composition root'],
    ['transport calls a command on cmd', 'http/bad.ts', 'export const f = (ctx: any) => ctx.c.cmd.hget("k", "f");', 'raw-redis', '`.cmd.hget(`'],
    ['transport builds a key', 'realtime/bad.ts', "export const f = (K: any) => K.visitor('v');", 'raw-redis', '`K.visitor(`'],
    ['a folder that is no layer', 'routing/router.ts', 'export const x = 1;', 'no-layer', 'routing/ is no layer'],
  ])('%s: flagged', (_what, file, line, rule, message) => {
    // The offending line is line 3 of the file, after two harmless ones.
    const r = run({ ...CLEAN, [file]: `// a file\nexport const ok = 1;\n${line}\n` });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    const [out] = r.lines;
    expect(out).toMatch(LINE);
    expect(out).toMatch(new RegExp(`^server/src/${file}:${rule === 'no-layer' ? 1 : 3}: ${rule}: `));
    expect(out).toContain(message);
    expect(r.stderr).toMatch(new RegExp(`check-layers: 1 violation \\(${rule} 1\\)`));
  });

  it('reports every violation of a file, each at its own line, and a count per rule', () => {
    const r = run({
      ...CLEAN,
      'http/many.ts': [
        "import { K } from '../store/keys';",
        'import {',
        '  connect,',
        "} from '../redis/client';",
        "import type { Redis } from 'ioredis';",
        'export const f = (c: { cmd: Redis }) => c.cmd.get(K.conv("x"));',
      ].join('\n'),
      'store/up.ts': "import { Domain } from '../domain';\nexport const d = Domain;",
    });
    expect(r.code).toBe(1);
    expect(r.lines.map((l) => l.split(': ').slice(0, 2).join(': '))).toEqual([
      'server/src/http/many.ts:1: transport-store',
      'server/src/http/many.ts:2: transport-infra',
      'server/src/http/many.ts:5: ioredis',
      'server/src/http/many.ts:6: raw-redis',
      'server/src/http/many.ts:6: raw-redis',
      'server/src/store/up.ts:1: upward',
    ]);
    expect(r.stderr).toContain('check-layers: 6 violations (transport-store 1, transport-infra 1, ioredis 1, raw-redis 2, upward 1)');
  });

  it('refuses a root without server/src, and an unknown argument', () => {
    const empty = mkdtempSync(join(tmpdir(), 'hark-layers-'));
    roots.push(empty);
    const r = spawnSync(process.execPath, [SCRIPT, '--root', empty], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('does not exist');
    expect(spawnSync(process.execPath, [SCRIPT, '--nope'], { encoding: 'utf8' }).status).toBe(2);
  });
});
