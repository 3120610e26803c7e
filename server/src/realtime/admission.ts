/**
 * Admission of visitor sockets on one gateway: a visitor's upgrade and its first hello hold a
 * turn; a bounded number wait for one; the rest are refused at once (503 BUSY), before their
 * upgrade reads anything from Redis. In a reconnect storm ten thousand hellos all in progress at
 * once advanced in lockstep (each had its first round trip answered before any had its last), so
 * every visitor waited for the whole storm's work; with turns the first ones are answered at once,
 * and those refused go to another gateway (a load balancer, or the client's own retry) instead of
 * waiting behind a queue that cannot be served soon.
 */
import { HELLO_TURN_MS, HELLO_WAIT_MS, HELLOS_IN_FLIGHT, HELLOS_WAITING } from '@hark/shared';

export interface AdmissionSettings {
  inFlight: number;
  waiting: number;
  waitMs: number;
  turnMs: number;
}

export const ADMISSION: AdmissionSettings = { inFlight: HELLOS_IN_FLIGHT, waiting: HELLOS_WAITING, waitMs: HELLO_WAIT_MS, turnMs: HELLO_TURN_MS };

/** A turn: give it back once (later calls do nothing). */
export type Turn = () => void;

export class Admission {
  private busy = 0;
  private readonly queue: { grant: (t: Turn | null) => void; timer: NodeJS.Timeout }[] = [];
  private head = 0;
  readonly s: AdmissionSettings;
  /** Called for every refusal (BUSY). */
  onRefused: () => void = () => {};

  constructor(settings: Partial<AdmissionSettings> = {}) {
    this.s = { ...ADMISSION, ...settings };
  }

  /** Turns held now, and upgrades waiting for one. */
  get inFlight(): number {
    return this.busy;
  }
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** A turn now, or once one is free (within waitMs); null when refused (too many waiting, or waited too long). */
  enter(): Turn | Promise<Turn | null> | null {
    if (this.busy < this.s.inFlight && this.waiting === 0) return this.take();
    if (this.waiting >= this.s.waiting) return this.refuse();
    return new Promise((grant) => {
      const w = {
        grant,
        timer: setTimeout(() => {
          // Still queued: leave the queue (granted ones have had their timer cleared).
          const i = this.queue.indexOf(w, this.head);
          if (i >= 0) this.queue.splice(i, 1);
          grant(this.refuse());
        }, this.s.waitMs),
      };
      this.queue.push(w);
    });
  }

  private refuse(): null {
    this.onRefused();
    return null;
  }

  private take(): Turn {
    this.busy++;
    let done = false;
    // A turn whose hello never comes (a client that upgrades and says nothing) is given back anyway.
    const timer = setTimeout(() => turn(), this.s.turnMs);
    timer.unref();
    const turn: Turn = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.busy--;
      this.next();
    };
    return turn;
  }

  private next(): void {
    while (this.busy < this.s.inFlight && this.head < this.queue.length) {
      const w = this.queue[this.head++] as (typeof this.queue)[number];
      clearTimeout(w.timer);
      w.grant(this.take());
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
