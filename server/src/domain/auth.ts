/**
 * Operators' sign-in: sessions, the sign-in limits (per address and account, and per
 * address; never per account alone: SECURITY.md), and passwords (hashing bounded:
 * store/passwords.ts). The transport sets and reads the cookie; everything else is here.
 */
import { HarkError } from '@hark/shared';
import { type OperatorRecord, getOperatorByEmail, updateOperator } from '../store/operators';
import { dummyHash, verifyPassword } from '../store/passwords';
import { type LoginLimits, createSession, destroyAllSessions, destroySession, loginAttempt, sessionOperator } from '../store/sessions';
import type { Deps } from './deps';
import type { Operators } from './operators';

export { BUSY_RETRY_AFTER_S } from '../store/passwords';
export { type LoginLimits, SESSION_COOKIE } from '../store/sessions';

export type SignIn = { ok: true; op: OperatorRecord; token: string } | { ok: false; code: 'LOGIN_RATE_LIMITED'; waitMs: number } | { ok: false; code: 'BUSY' };

export class Auth {
  constructor(
    private readonly d: Deps,
    private readonly ops: Operators,
  ) {}

  /** The operator and session hash of a session token, or null. */
  session(token: string | undefined): Promise<{ op: string; hash: string } | null> {
    return sessionOperator(this.d.c.cmd, token);
  }

  /**
   * Checks a sign-in within the limits: refused before any hashing when the address (and
   * account) must wait; BUSY when too many hashes run (the attempt is given back); otherwise
   * a session, or BAD_CREDENTIALS / ACCOUNT_DISABLED thrown.
   */
  async signIn(address: string, email: string, password: string, limits: LoginLimits): Promise<SignIn> {
    const r = this.d.c.cmd;
    const attempt = loginAttempt(address, email, limits);
    const waitMs = await attempt.take(r);
    if (waitMs) return { ok: false, code: 'LOGIN_RATE_LIMITED', waitMs };
    let op: OperatorRecord | null;
    let ok: boolean;
    try {
      op = await getOperatorByEmail(r, email);
      // Verify against a dummy hash when the e-mail is unknown, so the time taken does not tell.
      ok = await verifyPassword(password, op?.passhash || (await dummyHash()));
    } catch (e) {
      if (!(e instanceof HarkError && e.code === 'BUSY')) throw e;
      // Too many hashes at once: the password was not checked, so the attempt is given back.
      await attempt.giveBack(r);
      return { ok: false, code: 'BUSY' };
    }
    if (!op || !ok) {
      await attempt.failed(r);
      throw new HarkError('BAD_CREDENTIALS');
    }
    if (!op.active) throw new HarkError('ACCOUNT_DISABLED');
    await attempt.succeeded(r);
    const token = await createSession(r, op.id);
    // Signing in starts a shift: the operator is online until they choose otherwise
    // (the choice is kept across reloads) or every console tab has been closed a while.
    if (op.status !== 'online') await this.ops.setStatus(op.id, 'online');
    return { ok: true, op, token };
  }

  async signOut(token: string | undefined): Promise<void> {
    const s = await sessionOperator(this.d.c.cmd, token);
    if (!s) return;
    await destroySession(this.d.c.cmd, s.op, s.hash);
    await this.ops.endSessions(s.op, [s.hash]);
  }

  /** Changes one's own password; every other session of theirs ends (this one stays). */
  async changePassword(op: OperatorRecord, current: string, next: string, keepSession?: string): Promise<void> {
    if (!(await verifyPassword(current, op.passhash))) throw new HarkError('BAD_CREDENTIALS');
    await updateOperator(this.d.c.cmd, op.id, { password: next });
    const ended = await destroyAllSessions(this.d.c.cmd, op.id, keepSession);
    if (ended.length) await this.ops.endSessions(op.id, ended);
  }

  /** Round trip to Redis (readiness, metrics). */
  async ping(): Promise<void> {
    await this.d.c.cmd.ping();
  }
}
