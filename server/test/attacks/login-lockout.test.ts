/**
 * Attack: locking the real owner out. Ten wrong passwords from one address locked the account for
 * everyone, from every address. Now sign-in attempts are limited per (address, account) pair, with
 * delays that grow after LOGIN_ATTEMPTS, and per address across accounts; never per account alone.
 * The attacker's address gets 429 LOGIN_RATE_LIMITED with Retry-After; the owner, elsewhere, signs in.
 * The attempt counts are lowered with AppOptions.testLimits (each wrong password costs a ~0.5 s
 * scrypt); the product values are checked first.
 */
import { LOGIN_ATTEMPTS, LOGIN_ATTEMPTS_PER_ADDRESS, LOGIN_DELAY_MAX_MS, LOGIN_DELAY_MS, LOGIN_WINDOW_MS, randomId } from '@hark/shared';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dummyHash } from '../../src/store/passwords';
import { ADMIN, type TestGateway, type TestRedis, testGateway, testRedis } from '../harness';
import { httpReq } from './net';

const ATTEMPTS = 2;
const PER_ADDRESS = 3;
const ATTACKER = '127.0.0.5';
const OWNER = '127.0.0.6';
let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  redis = await testRedis();
  // With it, the hash unknown e-mails are checked against (made once per process).
  [gw] = await Promise.all([testGateway(redis.url, { testLimits: { loginAttempts: ATTEMPTS, loginAttemptsPerAddress: PER_ADDRESS } }), dummyHash()]);
});
afterAll(async () => {
  await gw?.close();
  await redis?.cleanup();
});

const signIn = (from: string, email: string, password: string) =>
  httpReq(gw.port, { method: 'POST', path: '/v1/auth/login', headers: { origin: gw.base }, body: { email, password }, localAddress: from });
const codesOf = (rs: { json: { code?: unknown } }[]) => rs.map((r) => String(r.json.code));

it('product values', () => {
  expect(LOGIN_ATTEMPTS).toBe(10);
  expect(LOGIN_DELAY_MS).toBe(1_000);
  expect(LOGIN_DELAY_MAX_MS).toBe(15 * 60_000);
  expect(LOGIN_ATTEMPTS_PER_ADDRESS).toBe(50);
  expect(LOGIN_WINDOW_MS).toBe(3_600_000);
});

it('20 wrong passwords from one address, all at once: that address is slowed (429 + Retry-After); the owner signs in from another', async () => {
  const t0 = Date.now();
  const attack = await Promise.all(Array.from({ length: 20 }, (_, i) => signIn(ATTACKER, ADMIN.email, `wrong password ${i}`)));
  const codes = codesOf(attack);
  // ATTEMPTS were checked (401); the rest were refused at once, without hashing.
  expect(codes.filter((c) => c === 'BAD_CREDENTIALS').length).toBe(ATTEMPTS);
  expect(codes.filter((c) => c === 'LOGIN_RATE_LIMITED').length).toBe(20 - ATTEMPTS);
  for (const r of attack.filter((a) => a.status === 429)) expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Date.now() - t0).toBeLessThan(10_000);
  // From the attacker's own address the pair waits, right password or not.
  const same = await signIn(ATTACKER, ADMIN.email, ADMIN.password);
  expect(same.status).toBe(429);
  expect(same.json.code).toBe('LOGIN_RATE_LIMITED');
  // The owner, from another address, with the right password: in at once.
  const owner = await signIn(OWNER, ADMIN.email, ADMIN.password);
  expect(owner.status).toBe(200);
  expect(String(owner.headers['set-cookie'])).toMatch(/^hark_session=/);
  expect((await gw.ctx.metrics.signinRefused.get()).values.find((v) => v.labels.reason === 'rate_limited')?.value).toBe(20 - ATTEMPTS + 1);
});

it('the delay grows: once it lapses one more attempt is checked, and the next wait is longer', async () => {
  const email = ADMIN.email;
  const from = '127.0.0.15';
  for (let i = 0; i < ATTEMPTS; i++) expect((await signIn(from, email, 'nope nope nope')).json.code).toBe('BAD_CREDENTIALS');
  const first = await signIn(from, email, 'nope nope nope');
  expect(first.json.code).toBe('LOGIN_RATE_LIMITED');
  expect(Number(first.headers['retry-after'])).toBe(LOGIN_DELAY_MS / 1000);
  await new Promise((r) => setTimeout(r, Number(first.headers['retry-after']) * 1_000));
  expect((await signIn(from, email, 'nope nope nope')).json.code).toBe('BAD_CREDENTIALS');
  const second = await signIn(from, email, 'nope nope nope');
  expect(second.json.code).toBe('LOGIN_RATE_LIMITED');
  expect(Number(second.headers['retry-after'])).toBe((2 * LOGIN_DELAY_MS) / 1000);
});

it('one address across many accounts: past the per-address limit it is refused for every account', async () => {
  const from = '127.0.0.25';
  const spray = await Promise.all(Array.from({ length: PER_ADDRESS + 3 }, (_, i) => signIn(from, `spray-${i}-${randomId(6)}@example.com`, 'Summer2024!')));
  const codes = codesOf(spray);
  expect(codes.filter((c) => c === 'BAD_CREDENTIALS').length).toBe(PER_ADDRESS);
  expect(codes.filter((c) => c === 'LOGIN_RATE_LIMITED').length).toBe(3);
  const blocked = await signIn(from, ADMIN.email, ADMIN.password);
  expect(blocked.status).toBe(429);
  expect(blocked.json.code).toBe('LOGIN_RATE_LIMITED');
  expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
  // (Other addresses are unaffected: the owner at OWNER above.)
});
