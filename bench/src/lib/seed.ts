/**
 * Seeds sites and operators straight into Redis through the server's own store
 * code, and mints operator sessions without signing in: scrypt at OWASP cost
 * takes a few hundred ms per password, which would dominate the setup of 200
 * operators and measure nothing we care about here.
 */
import { K } from '@hark/server/src/store/keys';
import { createSession } from '@hark/server/src/store/sessions';
import type { Site } from '@hark/server/src/domain/sites';
import { createSite } from '@hark/server/src/store/sites';
import { randomId } from '@hark/shared';
import { Cluster, Redis } from 'ioredis';

export interface SeededOp {
  id: string;
  cookie: string;
}

/** `site`: settings every seeded site gets besides the defaults. */
export async function seed(to: string | { url?: string; clusterNodes?: string[] }, sites: number, operators: number, capacity: number, site: Partial<Site> = {}): Promise<{ sites: string[]; ops: SeededOp[] }> {
  const t = typeof to === 'string' ? { url: to } : to;
  const r = t.clusterNodes?.length ? new Cluster(t.clusterNodes.map((n) => ({ host: n.split(':')[0] as string, port: Number(n.split(':')[1]) }))) : new Redis(t.url as string);
  try {
    if (r instanceof Cluster) await Promise.all(r.nodes('master').map((n) => n.flushall()));
    else await r.flushall();
    const siteIds = Array.from({ length: sites }, (_, i) => `s${i}`);
    for (const s of siteIds) await createSite(r, s, `Bench ${s}`, { origins: ['*'], ...site });
    const ops: SeededOp[] = [];
    for (let i = 0; i < operators; i++) {
      const id = randomId(12);
      const email = `op${i}@bench.test`;
      await r.set(K.operatorByEmail(email), id);
      await r.hset(K.operator(id), {
        email,
        name: `Op ${i}`,
        role: 'operator',
        capacity: String(capacity),
        sites: JSON.stringify(siteIds),
        teams: '[]',
        active: '1',
        status: 'online',
        createdAt: String(Date.now()),
        passhash: 'none',
      });
      await r.sadd(K.operators, id);
      ops.push({ id, cookie: `hark_session=${await createSession(r, id)}` });
    }
    return { sites: siteIds, ops };
  } finally {
    r.disconnect();
  }
}
