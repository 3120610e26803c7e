/**
 * Debian's Caddy in front of a gateway, for the proxy test: the README's own Caddyfile with this
 * test's address, certificate (made here, as for nginx) and upstream put in, started with its own
 * config and data directories, no admin endpoint, on loopback (never the system service).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linesMatching, makeCert, readmeBlock, stopProcess, type TlsProxy, waitPort } from './nginx';

export const CADDY = process.env.CADDY_PATH ?? '/usr/bin/caddy';

/**
 * The README block with this test's values: the site address becomes https://localhost:PORT, the
 * test's certificate replaces the automatic one (no ACME from a test), the upstream its gateway.
 * Global options keep Caddy to this test: its own HTTP port for the redirect, no admin endpoint.
 */
export function caddyConfig(block: string, v: { httpsPort: number; httpPort: number; upstreamPort: number; cert: string; key: string }): string {
  const site = block
    .replace('chat.example.com {', `https://localhost:${v.httpsPort} {\n    tls ${v.cert} ${v.key}`)
    .replace('reverse_proxy 127.0.0.1:8080', `reverse_proxy 127.0.0.1:${v.upstreamPort}`);
  for (const left of ['8080', 'chat.example.com']) if (site.includes(left)) throw new Error(`the README's Caddyfile changed shape: "${left}" is left in it`);
  return `{\n    admin off\n    http_port ${v.httpPort}\n    https_port ${v.httpsPort}\n    skip_install_trust\n}\n\n${site}`;
}

export async function startCaddy(opts: { upstreamPort: number; httpsPort: number; httpPort: number }): Promise<TlsProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'hark-caddy-'));
  const { cert, key } = makeCert(dir);
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, caddyConfig(readmeBlock('caddyfile'), { ...opts, cert, key }));
  let out = '';
  const child: ChildProcess = spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its data and config (certificates, autosave) in this test's directory, not the user's.
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
  });
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  await waitPort(opts.httpsPort, 10_000, () => out);
  return {
    name: 'Caddy',
    origin: `https://localhost:${opts.httpsPort}`,
    httpsPort: opts.httpsPort,
    httpPort: opts.httpPort,
    certPem: readFileSync(cert, 'utf8'),
    // Caddy logs JSON lines; what matters is any at level error or worse.
    errors: () => linesMatching(out, /"level":"(error|panic|fatal)"/),
    stop: () => stopProcess(child, dir, 'SIGTERM'),
  };
}
