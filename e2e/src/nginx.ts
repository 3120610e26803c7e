/**
 * Debian's nginx in front of a gateway, for the proxy test: a certificate made here (openssl),
 * the README's own nginx block with this test's ports, certificate and upstream put in, and
 * nginx started with its own prefix and config (never the system service), on loopback.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

/** The ```LANG block of the README's "Behind a reverse proxy" section, as a site owner copies it. */
export function readmeBlock(lang: 'nginx' | 'caddyfile'): string {
  const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Behind a reverse proxy'));
  const m = new RegExp(`\`\`\`${lang}\n([\\s\\S]*?)\`\`\``).exec(section);
  if (!m?.[1]) throw new Error(`README.md has no \`\`\`${lang} block under "Behind a reverse proxy"`);
  return m[1];
}

/** Lines of a proxy's log that match `level` (what it logged at error level or worse). */
export const linesMatching = (log: string, level: RegExp) =>
  log
    .split('\n')
    .filter((l) => level.test(l))
    .join('\n');

/** Stops a proxy process with its graceful signal (SIGKILL after 5 s) and removes its directory. */
export function stopProcess(child: ChildProcess, dir: string, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((res) => {
    const done = () => {
      rmSync(dir, { recursive: true, force: true });
      res();
    };
    if (child.exitCode !== null) return done();
    child.once('exit', done);
    child.kill(signal);
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}

/** A TLS proxy a test started (nginx here, Caddy in caddy.ts). */
export interface TlsProxy {
  name: string;
  /** The https origin browsers use: https://localhost:PORT */
  origin: string;
  httpsPort: number;
  httpPort: number;
  certPem: string;
  /** What the proxy logged at error level or worse. */
  errors(): string;
  stop(): Promise<void>;
}
export type Nginx = TlsProxy;

/** The README block with this test's values in place of chat.example.com's. */
export function siteConfig(block: string, v: { httpsPort: number; httpPort: number; upstreamPort: number; cert: string; key: string }): string {
  const out = block
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${v.upstreamPort};`)
    .replace('listen 443 ssl http2;', `listen 127.0.0.1:${v.httpsPort} ssl http2;`)
    .replace(/^\s*listen \[::\]:443 ssl http2;\n/m, '')
    .replace('listen 80;', `listen 127.0.0.1:${v.httpPort};`)
    .replaceAll('server_name chat.example.com;', 'server_name localhost;')
    .replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${v.cert};`)
    .replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${v.key};`);
  // As whole tokens: a port the test chose may contain them (127.0.0.1:44331, 38080), which is no leftover.
  for (const [left, re] of [['8080', /\b8080\b/], [':443', /:443\b/], ['chat.example.com', /chat\.example\.com/], ['letsencrypt', /letsencrypt/]] as const) if (re.test(out)) throw new Error(`the README's nginx block changed shape: "${left}" is left in it`);
  return out;
}

export function waitPort(port: number, timeoutMs: number, errors: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((res, rej) => {
    const attempt = () => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        res();
      });
      s.on('error', () => {
        s.destroy();
        if (Date.now() > end) rej(new Error(`the proxy did not listen on ${port}:\n${errors()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** A self-signed certificate for localhost (a day long), made with openssl into `dir`. */
export function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

export async function startNginx(opts: { upstreamPort: number; httpsPort: number; httpPort: number }): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'hark-nginx-'));
  // nginx's workers (nobody, when started as root) read and write below the prefix.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'logs'));
  const { cert, key } = makeCert(dir);
  const site = siteConfig(readmeBlock('nginx'), { ...opts, cert, key });
  const errorLog = join(dir, 'logs', 'error.log');
  const conf = `daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${errorLog} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  default_type application/octet-stream;
${site}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const errors = () => {
    try {
      return readFileSync(errorLog, 'utf8');
    } catch {
      return '';
    }
  };
  let out = '';
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', errorLog], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  await waitPort(opts.httpsPort, 10_000, () => `${out}${errors()}`);
  return {
    name: 'nginx',
    origin: `https://localhost:${opts.httpsPort}`,
    httpsPort: opts.httpsPort,
    httpPort: opts.httpPort,
    certPem: readFileSync(cert, 'utf8'),
    errors: () => linesMatching(errors(), /\[(error|crit|alert|emerg)\]/),
    // SIGQUIT: nginx's graceful stop.
    stop: () => stopProcess(child, dir, 'SIGQUIT'),
  };
}
