/** First run: a demo site and a first admin, so `pnpm start` gives a working chat at once. */
import { randomBytes } from 'node:crypto';
import type { Connections } from './redis/client';
import { K } from './store/keys';
import { createOperator } from './store/operators';
import { createSite, getSite } from './store/sites';

export const DEMO_SITE = 'demo';

export interface FirstRun {
  createdSite: boolean;
  admin?: { email: string; password: string; generated: boolean };
}

export async function bootstrap(c: Connections, env: { adminEmail?: string | undefined; adminPassword?: string | undefined }): Promise<FirstRun> {
  const out: FirstRun = { createdSite: false };
  if (!(await getSite(c.cmd, DEMO_SITE)) && (await c.cmd.scard(K.sites)) === 0) {
    // 'self' = the gateway's own origin, so the demo page works on any host and port.
    await createSite(c.cmd, DEMO_SITE, 'Demo shop', { origins: ['self'], greeting: 'Hi! Ask us anything about the demo shop.' });
    out.createdSite = true;
  }
  if ((await c.cmd.scard(K.operators)) === 0) {
    const email = env.adminEmail ?? 'admin@example.com';
    const generated = !env.adminPassword;
    const password = env.adminPassword ?? randomBytes(12).toString('base64url');
    await createOperator(c.cmd, { email, name: 'Admin', password, role: 'admin', sites: [DEMO_SITE] });
    out.admin = { email, password, generated };
  }
  return out;
}
